"""Strict layers: firmware_bridge <- converters <- fpga <- boards <- vp_edge <- experiments.

No circles either.

Walks every module's imports with ``ast``, with no exceptions: imports inside functions count
(a lazy upward import is still an upward dependency) and so do ``if TYPE_CHECKING:`` blocks (a
type named from above is a dependency on above). A circle is a cycle among all of these imports.
The C sources get the same rule: no cycle among the files' calls (``c_circles``) or includes.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("firmware_bridge", "converters", "fpga", "boards", "vp_edge", "experiments")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom, known: set[str]) -> list[str]:
    """The modules a ``from X import a, b`` loads: ``X.a`` where that is a module, else ``X``."""
    if node.level:
        base = mod.split(".")
        base = base if is_pkg else base[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    subs = [f"{prefix}.{a.name}" for a in node.names if f"{prefix}.{a.name}" in known]
    return subs if len(subs) == len(node.names) else [prefix, *subs]


def _walk(nodes: list[ast.stmt]) -> list[ast.stmt]:
    """Every statement under ``nodes``: module level, functions, classes, if/try blocks."""
    out = []
    for n in nodes:
        out.append(n)
        for field in ("body", "orelse", "finalbody", "handlers"):
            out += _walk([c for c in getattr(n, field, []) if isinstance(c, ast.AST)])
    return out


def imports() -> dict[str, set[str]]:
    """module -> every module it imports (lazily, under TYPE_CHECKING or at import time)."""
    files = {_module_name(p): p for pkg in LAYERS for p in sorted((ROOT / pkg).rglob("*.py"))}
    known = set(files)
    out: dict[str, set[str]] = {}
    for mod, path in files.items():
        tree = ast.parse(path.read_text(), str(path))

        def names(nodes: list[ast.stmt], mod: str = mod, path: Path = path) -> set[str]:
            found: set[str] = set()
            for n in nodes:
                if isinstance(n, ast.Import):
                    found.update(a.name for a in n.names)
                elif isinstance(n, ast.ImportFrom):
                    found.update(_resolve(mod, path.name == "__init__.py", n, known))
            return found

        out[mod] = names(_walk(tree.body))
    return out


def _layer(name: str) -> int | None:
    head = name.split(".")[0]
    return LAYERS.index(head) if head in LAYERS else None


def upward_imports() -> list[str]:
    bad = []
    for mod, every in imports().items():
        own = _layer(mod)
        for name in sorted(every):
            lay = _layer(name)
            if lay is not None and own is not None and lay > own:
                bad.append(f"{mod} imports {name} ({LAYERS[own]} is below {LAYERS[lay]})")
    return sorted(set(bad))


def _owner(name: str, mods: set[str]) -> str | None:
    """The module (or package) that importing ``name`` loads, if it is one of ours."""
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def circles() -> list[list[str]]:
    graph = imports()
    mods = set(graph)
    edges = {m: {_owner(n, mods) for n in graph[m]} - {None, m} for m in mods}
    return _cycles(edges)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The cycles a depth-first walk meets (empty exactly when the graph has none)."""
    seen: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(m: str) -> None:
        seen[m] = 1
        stack.append(m)
        for n in sorted(edges[m]):
            if seen.get(n) == 1:
                found.append(stack[stack.index(n) :] + [n])
            elif n not in seen:
                visit(n)
        stack.pop()
        seen[m] = 2

    for m in sorted(edges):
        if m not in seen:
            visit(m)
    return found


C_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
C_DEF = re.compile(r"^(?!static\b)[A-Za-z_][\w \t*]*?\b([A-Za-z_]\w*)\s*\([^;{}]*\)\s*\{", re.M)
C_CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
C_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
#: where an include not found beside the file is looked for: the firmware Makefile's -I folders
C_INCLUDE_DIRS = (
    "firmware_bridge/firmware/c",
    "firmware_bridge/protocol/c",
    "firmware_bridge/engine/c",
)

#: firmware_bridge's subpackages and the others each may import, besides the modules at the top
#: that all share (errors, files). The engine knows nothing of the wire; the firmware's host
#: side knows the protocol (its images carry a CRC-32C) and which C files are the engine (it
#: compiles them in, and counts their instructions apart); the protocol's session opens transport
#: links and the transport's FrameLink carries protocol frames, so those two are one level. In
#: C, the codec and the engine stand alone and the firmware compiles both in.
BRIDGE_PARTS = {
    "protocol": {"transport"},
    "transport": {"protocol"},
    "engine": set(),
    "firmware": {"protocol", "engine"},
}
BRIDGE_SHARED = {"errors", "files"}
C_PARTS = {"protocol": set(), "engine": set(), "firmware": {"protocol", "engine"}}


def _include(p: Path, inc: str) -> Path | None:
    """The file ``#include "inc"`` in ``p`` reads: beside ``p``, else in ``C_INCLUDE_DIRS``."""
    for folder in (p.parent, *(ROOT / d for d in C_INCLUDE_DIRS)):
        if (folder / inc).exists():
            return (folder / inc).resolve()
    return None


def c_graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(file -> files whose functions it calls, file -> files it includes) over our C sources.

    A function defined in several files is a port (``fw.h``'s target interface, one
    implementation per target, never linked together): calling it is no edge to any of them.
    """
    files = sorted(p for p in (ROOT / "firmware_bridge").rglob("*.[ch]"))
    text = {p: C_COMMENT.sub("", p.read_text(errors="replace")) for p in files}
    defs: dict[str, set[Path]] = {}
    for p, src in text.items():
        for m in C_DEF.finditer(src):
            defs.setdefault(m.group(1), set()).add(p)
    calls: dict[str, set[str]] = {}
    incs: dict[str, set[str]] = {}
    for p, src in text.items():
        key = str(p.relative_to(ROOT))
        owners = (defs.get(n, set()) for n in set(C_CALL.findall(src)))
        calls[key] = {str(q.relative_to(ROOT)) for o in owners if len(o) == 1 for q in o} - {key}
        found = (_include(p, inc) for inc in C_INCLUDE.findall(src))
        incs[key] = {str(q.relative_to(ROOT)) for q in found if q is not None}
    return calls, incs


def c_circles() -> list[list[str]]:
    calls, incs = c_graph()
    return _cycles(calls) + _cycles(incs)


def aliases() -> set[str]:
    """Modules kept at an old path for one release: they replace themselves in ``sys.modules``
    by the module they name (docs/architecture.md lists them)."""
    files = {_module_name(p): p for pkg in LAYERS for p in sorted((ROOT / pkg).rglob("*.py"))}
    return {m for m, p in files.items() if "sys.modules[__name__] = " in p.read_text()}


def test_no_module_imports_an_old_path() -> None:
    old = aliases()
    assert "firmware_bridge.cobs" in old  # the checker sees the aliases
    bad = sorted(f"{m} imports {n}" for m, every in imports().items() if m not in old
                 for n in every if n in old)  # fmt: skip
    assert not bad, f"{len(bad)} imports of an old path:\n" + "\n".join(bad)


def test_an_old_path_is_the_new_module() -> None:
    import importlib

    for old in sorted(aliases()):
        module = importlib.import_module(old)
        assert module.__name__ != old and module.__name__.startswith("firmware_bridge."), old
        assert importlib.import_module(module.__name__) is module


def _part(name: str, sep: str) -> str | None:
    """The firmware_bridge part ``name`` (a module or a file path) lies in: a subpackage or a
    top module; "" for the package itself, None outside firmware_bridge."""
    parts = name.split(sep)
    if parts[0] != "firmware_bridge":
        return None
    return parts[1] if len(parts) > 1 else ""


def bridge_crossings() -> list[str]:
    """Imports, includes and calls between firmware_bridge's subpackages that the rule forbids."""
    old, bad = aliases(), []
    for mod, every in imports().items():
        own = _part(mod, ".")
        if own not in BRIDGE_PARTS or mod in old:
            continue
        allowed = {None, own, *BRIDGE_PARTS[own], *BRIDGE_SHARED}
        bad += [f"{mod} imports {n}" for n in every if _part(n, ".") not in allowed]
    for graph in c_graph():
        for src, targets in graph.items():
            own = _part(src, "/")
            if own in C_PARTS:
                allowed = {own, *C_PARTS[own]}
                bad += [f"{src} uses {t}" for t in targets if _part(t, "/") not in allowed]
    return sorted(bad)


#: every public name firmware_bridge/protocol.py had when it was one module (release 0.1)
PROTOCOL_NAMES = (
    "BoardKind CHUNKED CRC_SIZE DROP_REASONS Error FROM_GATEWAY_TYPES Flag HEADER_FMT "
    "HEADER_SIZE Heartbeat Hello INFER_CHUNK_HEADER INFER_STAGE_CHUNK_HEADER Infer InferStage "
    "LOAD_CHUNK_HEADER LoadAck LoadBegin LoadChunk LoadCommit MAGIC MAX_FRAME MAX_K MAX_NAME "
    "MESSAGES Message MsgType Probe Readback ReadbackReply Result SLOT_ACTIVE STATUS_TEXT "
    "Status TAG_SIZE TENSOR_CHUNK_HEADER Tensor VARIABLE VERSION result_frame_size "
    "unpack_message "
).split()


def test_the_protocol_package_gives_what_the_module_gave() -> None:
    import firmware_bridge.protocol as protocol

    missing = [n for n in PROTOCOL_NAMES if not hasattr(protocol, n)]
    assert not missing and set(PROTOCOL_NAMES) <= set(protocol.__all__), missing


def test_bridge_subpackages_keep_their_places() -> None:
    assert set(BRIDGE_PARTS) == {
        p.name for p in (ROOT / "firmware_bridge").iterdir() if (p / "__init__.py").exists()
    }
    calls, incs = c_graph()
    assert "firmware_bridge/protocol/c/vp_proto.h" in incs["firmware_bridge/firmware/c/fw_main.c"]
    bad = bridge_crossings()
    assert not bad, f"{len(bad)} crossings between firmware_bridge's parts:\n" + "\n".join(bad)


def test_no_upward_imports() -> None:
    bad = upward_imports()
    assert not bad, f"{len(bad)} upward imports:\n" + "\n".join(bad)


def test_no_import_circles() -> None:
    found = circles()
    assert not found, f"{len(found)} import circles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_no_c_circles() -> None:
    calls, _ = c_graph()
    proto = "firmware_bridge/protocol/c/"
    assert f"{proto}vp_msg.c" in calls[f"{proto}vp_proto.c"]  # the checker sees calls
    found = c_circles()
    assert not found, f"{len(found)} C circles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_checker_sees_an_upward_import_and_a_circle(tmp_path: Path, monkeypatch) -> None:
    for pkg in LAYERS:
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "converters" / "a.py").write_text("from converters import b\n")
    (tmp_path / "converters" / "b.py").write_text(
        "def f():\n    from . import a\n    from vp_edge.errors import X\n"
    )
    (tmp_path / "boards" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import vp_edge\n"
    )
    c_dir = tmp_path / "firmware_bridge" / "c"
    c_dir.mkdir()
    (c_dir / "x.c").write_text("int x(void) { return y(); }\n")
    (c_dir / "y.c").write_text("static int z(void) { return 0; }\nint y(void) { return x(); }\n")
    (tmp_path / "firmware_bridge" / "engine").mkdir()
    (tmp_path / "firmware_bridge" / "engine" / "__init__.py").write_text(
        "from firmware_bridge.firmware import qemu\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert bridge_crossings() == ["firmware_bridge.engine imports firmware_bridge.firmware"]
    assert upward_imports() == [
        "boards.c imports vp_edge (boards is below vp_edge)",
        "converters.b imports vp_edge.errors (converters is below vp_edge)",
    ]
    assert circles() == [["converters.a", "converters.b", "converters.a"]]
    assert c_circles() == [
        ["firmware_bridge/c/x.c", "firmware_bridge/c/y.c", "firmware_bridge/c/x.c"]
    ]


def test_the_library_loads_no_experiment_qemu_or_pynq() -> None:
    """``import vp_edge`` and the gateway load neither the experiments, QEMU launchers nor the
    PYNQ daemon (a fresh interpreter, so other tests' imports do not count)."""
    code = (
        "import sys, vp_edge, vp_edge.gateway.core, vp_edge.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'experiments' "
        "or m in ('firmware_bridge.firmware.qemu', 'boards.pynq', 'boards.pynq_sim', 'pynq')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    ).stdout.strip()
    assert out == "[]"
