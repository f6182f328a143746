"""``vp-edge rollout``'s exit-code policy and default state file, at the library level."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from vp_edge.rollout import RolloutError, check_rollout, state_file_for


def _report(halted: bool, *statuses: str) -> dict:
    return {
        "to": "runs/new",
        "halted": halted,
        "outcomes": {f"b{i}": {"status": s} for i, s in enumerate(statuses)},
    }


def test_clean_rollout_passes() -> None:
    check_rollout(_report(False, "done", "already"), Path("s.json"))
    check_rollout(_report(False), None)


@pytest.mark.parametrize(
    ("halted", "status", "word"),
    [(True, "failed", "halted"), (False, "reverted", "finished with failures")],
)
def test_failed_rollout_raises_exit_4(halted: bool, status: str, word: str) -> None:
    with pytest.raises(RolloutError) as e:
        check_rollout(_report(halted, "done", status), Path("st/rollout.json"))
    assert e.value.exit_code == 4
    assert str(e.value) == f"rollout to runs/new {word}; state kept in st/rollout.json"


def test_state_file_given_or_in_the_state_folder(tmp_path: Path) -> None:
    dep = SimpleNamespace(state_dir=tmp_path)
    assert state_file_for(dep, None) == tmp_path / "rollout.json"  # type: ignore[arg-type]
    assert state_file_for(dep, Path("x.json")) == Path("x.json")  # type: ignore[arg-type]
