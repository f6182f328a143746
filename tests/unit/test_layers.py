"""Strict layers: firmware_bridge <- converters <- fpga <- boards <- vp_edge <- experiments.

No circles either.

Walks every module's imports with ``ast``. Imports inside functions count too (a lazy upward
import is still an upward dependency); only ``if TYPE_CHECKING:`` blocks are skipped (type
names, never imported at run time). A circle is a cycle among module-level imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("firmware_bridge", "converters", "fpga", "boards", "vp_edge", "experiments")
# The CLI keeps `vp-edge bench`, `vp-edge demo` and `vp-edge load`: they import the experiments
# package inside their functions, only when they run (no other upward import is allowed).
CLI_ENTRY_POINTS = {
    ("vp_edge.commands.bench", "experiments"),
    ("vp_edge.commands.demo", "experiments"),
    ("vp_edge.commands.load", "experiments"),
}


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


def _type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _walk(nodes: list[ast.stmt]) -> list[ast.stmt]:
    """Every statement under ``nodes``, skipping ``if TYPE_CHECKING:`` blocks."""
    out = []
    for n in nodes:
        if _type_checking(n):
            continue
        out.append(n)
        for field in ("body", "orelse", "finalbody", "handlers"):
            out += _walk([c for c in getattr(n, field, []) if isinstance(c, ast.AST)])
    return out


def _top(nodes: list[ast.stmt]) -> list[ast.stmt]:
    """Statements that run at import time: module level, inside plain if/try (not functions)."""
    out = []
    for n in nodes:
        if _type_checking(n) or isinstance(
            n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        ):
            continue
        out.append(n)
        if isinstance(n, (ast.If, ast.Try, ast.ExceptHandler)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                out += _top(getattr(n, field, []))
    return out


def imports() -> dict[str, tuple[set[str], set[str]]]:
    """module -> (every imported module, modules imported at import time)."""
    files = {_module_name(p): p for pkg in LAYERS for p in sorted((ROOT / pkg).rglob("*.py"))}
    known = set(files)
    out: dict[str, tuple[set[str], set[str]]] = {}
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

        out[mod] = (names(_walk(tree.body)), names(_top(tree.body)))
    return out


def _layer(name: str) -> int | None:
    head = name.split(".")[0]
    return LAYERS.index(head) if head in LAYERS else None


def upward_imports() -> list[str]:
    bad = []
    for mod, (every, top) in imports().items():  # parsed once: each file's imports are at hand
        own = _layer(mod)
        for name in sorted(every):
            lay = _layer(name)
            if (mod, name.split(".")[0]) in CLI_ENTRY_POINTS and name not in top:
                continue
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
    edges = {m: {_owner(n, mods) for n in graph[m][1]} - {None, m} for m in mods}
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

    for m in sorted(mods):
        if m not in seen:
            visit(m)
    return found


def test_no_upward_imports() -> None:
    bad = upward_imports()
    assert not bad, f"{len(bad)} upward imports:\n" + "\n".join(bad)


def test_no_import_circles() -> None:
    found = circles()
    assert not found, f"{len(found)} import circles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_checker_sees_an_upward_import_and_a_circle(tmp_path: Path, monkeypatch) -> None:
    for pkg in LAYERS:
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "converters" / "a.py").write_text("from converters import b\n")
    (tmp_path / "converters" / "b.py").write_text(
        "from . import a\n\ndef f():\n    from vp_edge.errors import X\n"
    )
    (tmp_path / "boards" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import vp_edge\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert upward_imports() == ["converters.b imports vp_edge.errors (converters is below vp_edge)"]
    assert circles() == [["converters.a", "converters.b", "converters.a"]]


def test_the_library_loads_no_experiment_qemu_or_pynq() -> None:
    """``import vp_edge`` and the gateway load neither the experiments, QEMU launchers nor the
    PYNQ daemon (a fresh interpreter, so other tests' imports do not count)."""
    code = (
        "import sys, vp_edge, vp_edge.gateway.core, vp_edge.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'experiments' "
        "or m in ('firmware_bridge.qemu', 'boards.pynq', 'boards.pynq_sim', 'pynq')))"
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
