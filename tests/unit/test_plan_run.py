"""``vp-edge plan``'s overrides and written files at the library level (vp_edge.plan_run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vp_edge.plan.costs import COSTS_FILE
from vp_edge.plan_run import plan_fleet

MIXED = Path(__file__).resolve().parents[2] / "docs" / "fleets" / "mixed.toml"


@pytest.mark.skipif(not COSTS_FILE.exists(), reason="no measured cost models")
def test_overrides_replace_the_files_values_none_keeps_them(tmp_path: Path) -> None:
    plan, result = plan_fleet(
        MIXED, tmp_path, "runs/x", deadline_ms=500, num_classes=5, headroom=None
    )
    assert (plan.fleet.deadline_ms, plan.fleet.num_classes) == (500, 5)
    kept, _ = plan_fleet(MIXED, tmp_path / "b", headroom=None)
    assert kept.fleet.headroom == plan.fleet.headroom
    assert all(Path(p).exists() for p in result["written"].values())
    assert 'run = "runs/x"' in (tmp_path / "deploy.toml").read_text()
