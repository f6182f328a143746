"""The mypy ratchet of ``make lint`` (scripts/mypy_counts.py): counts per package from mypy's
output, a package over its record fails, one under it is told to lower the record."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("mypy_counts", ROOT / "scripts" / "mypy_counts.py")
assert _spec is not None and _spec.loader is not None
mc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mc)

OUTPUT = """\
vp_edge/train.py:12: error: Incompatible types in assignment  [assignment]
vp_edge/gateway/core.py:40: error: Item "None" has no attribute "x"  [union-attr]
vp_edge/gateway/core.py:41: note: see above
boards/server.py:3: error: Name "x" is not defined  [name-defined]
Found 3 errors in 3 files (checked 9 source files)
"""


def test_counts_errors_per_package_not_notes() -> None:
    assert mc.count(OUTPUT) == Counter({"vp_edge": 2, "boards": 1})


def test_over_the_record_fails_under_it_asks_to_lower_it() -> None:
    bad, notes = mc.compare(
        Counter({"vp_edge": 2, "boards": 1}), {"boards": 0, "vp_edge": 5, "converters": 0}
    )
    assert bad == ["boards: 1 mypy errors, more than the 0 recorded"]
    assert notes == [
        "vp_edge: 2 mypy errors, fewer than the 5 recorded: lower the record in pyproject.toml"
    ]


def test_the_lower_packages_are_recorded_at_zero() -> None:
    record = mc.baseline()
    assert {record[p] for p in ("firmware_bridge", "converters", "boards")} == {0}
    assert set(record) == {
        "firmware_bridge",
        "converters",
        "fpga",
        "boards",
        "vp_edge",
        "experiments",
    }
