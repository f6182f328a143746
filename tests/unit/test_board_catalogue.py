"""``vp-edge boards``' data at the library level: every kind, profile and runner, and a
deployment's boards with their runtime (its run not needed)."""

from __future__ import annotations

from pathlib import Path

from boards.profiles import PROFILES
from boards.registry import BOARDS
from boards.runners import RUNNERS
from vp_edge.board_catalogue import board_catalogue


def test_catalogue_lists_everything_known() -> None:
    out = board_catalogue()
    assert set(out) == {"kinds", "profiles", "runners"}
    assert list(out["kinds"]) == list(BOARDS) and list(out["runners"]) == list(RUNNERS)
    assert out["profiles"]["cortex-m4"]["arena_limit"] == PROFILES["cortex-m4"].arena_limit
    assert all(("kernels" in v) == (v["runner"] == "litert") for v in out["kinds"].values())


def test_deployment_boards_with_runtime(tmp_path: Path) -> None:
    dep = tmp_path / "dep.toml"
    dep.write_text(
        'run = "not-yet"\ninsecure = true\n\n[[boards]]\nid = 1\nname = "b1"\nkind = "linux"\n'
        'link = "udp://127.0.0.1:9"\nvariant = "v0"\n'
    )
    (b,) = board_catalogue(dep)["deployment"]
    assert (b["name"], b["id"], b["kind"], b["variant"]) == ("b1", 1, "linux", "v0")
    assert b["runtime"].startswith("litert")
