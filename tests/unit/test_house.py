"""The house rule: modules at most 400 lines and functions at most 60, in every package.

A reader holds a module in view and a function on one screen; the rule is checked here, with no
list of exceptions, rather than hoped for.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("firmware_bridge", "converters", "fpga", "boards", "vp_edge", "experiments", "scripts")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _long_functions(path: Path, label: str) -> dict[str, int]:
    out = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = (node.end_lineno or node.lineno) - node.lineno + 1
            if n > MAX_FUNCTION_LINES:
                out[f"{label}:{node.lineno} {node.name}"] = n
    return out


def test_no_module_over_400_lines() -> None:
    modules = _modules()
    assert len(modules) > 100  # the packages were found
    long = {
        str(p.relative_to(ROOT)): n
        for p in modules
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_over_60_lines() -> None:
    long: dict[str, int] = {}
    for p in _modules():
        long.update(_long_functions(p, str(p.relative_to(ROOT))))
    assert long == {}, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_checker_sees_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    f = tmp_path / "probe.py"
    f.write_text(f"def long():\n{body}\n\n\ndef short():\n    pass\n")
    assert _long_functions(f, "probe.py") == {"probe.py:1 long": MAX_FUNCTION_LINES + 1}
