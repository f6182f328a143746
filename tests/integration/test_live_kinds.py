"""Every board kind in one live deployment: linux (LiteRT, UDP), mcu (tflite-micro, pty), pynq
(simulated PYNQ-Z2 in .venv-pynq, UDP) and qemu (Cortex-M4 firmware in QEMU, flashed with
vp-edge flash, pty). Each board's every RESULT equals its own runtime's offline top-k, and the
voted answers equal the offline vote. A kind is skipped, with the reason, only when its
prerequisites are missing ('make setup' installs them).

Slow: one demo run (about a minute, most of it flashing the QEMU board) on the session's tiny
converted run (tests/conftest.py ``tiny_run``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

KINDS = ("linux", "mcu", "pynq", "qemu")
IMAGES = 12


@pytest.fixture(scope="module")
def live(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One live demo for every test here: all kinds, the first linux board on XNNPACK (what a
    linux board serves with) and the second on the reference kernels."""
    from experiments.live import live_table, run_live_demo

    s = run_live_demo(
        tiny_run,
        IMAGES,
        tmp_path_factory.mktemp("live-kinds"),
        False,
        linux_kernels=("xnnpack", "ref"),
    )
    print("\n" + live_table(s))
    return s


@pytest.mark.slow
def test_live_equals_offline_across_kinds(live: dict) -> None:
    assert live["kinds"]["ran"][:2] == ["linux", "mcu"]
    assert live["equal"]
    for r in live["runs"].values():
        assert r["differing"] == 0 and r["errors"] == 0
        assert r["live_accuracy"] == r["offline_accuracy"]
    assert live["runs"]["all_alive"]["degraded"] == 0
    assert live["runs"]["killed"]["degraded"] >= IMAGES // 2 - 1
    assert all(v["udp"] <= 64 and v["serial"] <= 64 for v in live["result_frame_bytes"].values())


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_kind_answers_like_its_runtime(live: dict, kind: str) -> None:
    if kind not in live["kinds"]["ran"]:
        pytest.skip(f"{kind}: {live['kinds']['skipped'].get(kind, 'not in the deployment')}")
    alive = live["runs"]["all_alive"]
    check, stats = alive["board_checks"][kind], alive["kinds"][kind]
    assert check["checked"] == stats["results"] >= IMAGES - 1  # a slow first answer may miss
    assert check["differing"] == 0
    assert live["runs"]["killed"]["board_checks"][kind]["differing"] == 0
    assert stats["latency_ms"]["p50"] is not None and stats["received_per_inference"] > 0


@pytest.mark.slow
def test_linux_boards_on_xnnpack_and_ref_equal_their_own_offline(live: dict) -> None:
    linux = [b for b in live["boards"] if b["kind"] == "linux"]
    assert [b["kernels"] for b in linux] == ["xnnpack", "ref"]
    assert live["equal"]
    for name, r in live["runs"].items():
        assert r["differing"] == 0 and r["errors"] == 0
        assert r["live_accuracy"] == r["offline_accuracy"]
        engines = r["board_checks"]["linux"]["engines"]
        assert set(engines) == {"litert-xnnpack", "litert-ref"}
        for engine, c in engines.items():
            assert c["differing"] == 0, (name, engine)
            # the xnnpack board is killed halfway in the second run
            assert c["checked"] >= (IMAGES // 2 - 1 if name == "killed" else IMAGES - 1)


@pytest.mark.slow
def test_qemu_instructions_and_sizes(live: dict) -> None:
    if "qemu" not in live["kinds"]["ran"]:
        pytest.skip(f"qemu: {live['kinds']['skipped']['qemu']}")
    (q,) = live["qemu"].values()
    ins, elf = q["instructions"], q["elf"]
    # -icount counts exactly (to the firmware timer's 1 us tick, 1000 instructions); the Cortex-M
    # kernels take a few value-dependent branches (the demo's a04_r24: 4.914-4.922 M over 300
    # test images), so inputs differ by well under 1 %
    assert ins["max"] - ins["min"] <= max(1000, ins["min"] // 200) and ins["min"] > 1_000_000
    assert elf["flash"] <= elf["flash_budget"] and elf["ram"] <= q["profile"]["ram_bytes"]
    assert q["vpw_bytes"] <= elf["model_slot"]
    assert q["flash"]["verified"] and q["flash"]["size"] == q["vpw_bytes"]


@pytest.mark.slow
def test_pynq_board_runs_the_rtl_where_it_builds(live: dict) -> None:
    """The PYNQ board's fabric is the overlay's RTL wherever its simulator builds (make setup
    installs what it needs); its compute time is then the simulated cycles at 100 MHz."""
    if "pynq" not in live["kinds"]["ran"]:
        pytest.skip(f"pynq: {live['kinds']['skipped']['pynq']}")
    from boards.emulators import pynq_fabric

    fabric, why = pynq_fabric()
    (p,) = live["pynq"].values()
    assert p["fabric"] == fabric, why
    assert p["inferences"] >= 1  # how many answered in time depends on the machine's load
    if fabric == "rtl":  # the tiny variants take 9,000-17,000 cycles: 90-170 us at 100 MHz
        assert 50 < p["compute_us_p50"] < 1000


def test_board_serve_refuses_qemu_and_stray_pynq_flags(tmp_path: Path) -> None:
    from vp_edge.cli import main

    model = tmp_path / "m.vpw"
    model.write_bytes(b"VPW1")
    base = ["board", "serve", "--model", str(model), "--board-id", "1", "--insecure"]
    assert main([*base, "--kind", "qemu", "--listen", "pty://q"]) == 3
    assert main([*base, "--simulate", "--listen", "udp://127.0.0.1:9"]) == 3


def test_emulating_pynq_without_its_venv_says_make_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from boards.emulation import board_argv
    from vp_edge.deployment import BoardSpec, Deployment
    from vp_edge.errors import BoardError

    monkeypatch.setenv("VP_EDGE_PYNQ_PYTHON", str(tmp_path / "no-venv" / "python"))
    b = BoardSpec(1, "pq", "pynq", "udp://127.0.0.1:9", "v", "pynq-z2")
    dep = Deployment(tmp_path, None, 2, "reference", 0.5, (b,), tmp_path / "state")
    with pytest.raises(BoardError, match="make setup"):
        board_argv(dep, b, None)


def test_emulated_linux_boards_serve_with_the_deployment_kernels(tmp_path: Path) -> None:
    from boards.emulation import board_argv
    from vp_edge.deployment import BoardSpec, Deployment

    ref = BoardSpec(1, "pi", "linux", "udp://127.0.0.1:9", "v", "raspberry-pi-4", "ref")
    mcu = BoardSpec(2, "m", "mcu", "pty://m", "v", "cortex-m4")
    dep = Deployment(tmp_path, None, 2, "reference", 0.5, (ref, mcu), tmp_path / "state")
    argv = board_argv(dep, ref, None)
    assert argv[argv.index("--kernels") + 1] == "ref"
    assert "--kernels" not in board_argv(dep, mcu, None)
    assert (ref.runtime, mcu.runtime) == ("litert-ref", "tflm")


def test_registries_list_every_kind() -> None:
    from boards.registry import BOARDS, get_kind
    from boards.runners import RUNNERS

    assert set(KINDS) <= set(BOARDS) and "pynq" in RUNNERS
    assert get_kind("qemu").runner == "engine" and get_kind("pynq").runner == "pynq"
