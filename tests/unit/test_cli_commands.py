"""The everyday commands on small files made here: benchmark, devices, monitor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli_guards import free_udp_port, run_cli, tflite_model

from firmware_bridge.protocol.keys import derive_board_key

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "boards"))
from board_helpers import make_fake_run


def test_benchmark_runs_one_model_on_every_host_runtime(capsys, tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(tflite_model("int8"))
    code, err, out = run_cli(
        capsys, ["benchmark", str(model), "--runs", "3", "--no-qemu", "--json"]
    )
    assert code == 0, err
    rows = json.loads(out)["runtimes"]
    assert set(rows) == {"litert-ref", "litert-builtin", "xnnpack", "tflm", "engine"}
    for name, row in rows.items():
        assert row["runs"] == 3 and 0 < row["min_ms"] <= row["median_ms"] <= row["max_ms"], name
    assert len({row["output_sha256"] for row in rows.values()}) == 1  # same answer everywhere


def test_benchmark_of_a_vpw_runs_the_engine_only(capsys, tmp_path):
    from converters.vpw import tflite_to_vpw

    vpw = tmp_path / "m.vpw"
    vpw.write_bytes(tflite_to_vpw(tflite_model("int8")))
    code, err, out = run_cli(capsys, ["benchmark", str(vpw), "--runs", "2", "--no-qemu", "--json"])
    assert code == 0, err
    assert list(json.loads(out)["runtimes"]) == ["engine"]


def test_benchmark_refuses_what_is_not_a_model(capsys, tmp_path):
    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    code, err, _ = run_cli(capsys, ["benchmark", str(png)])
    assert code == 2 and err.count("\n") == 1 and "is a PNG image" in err
    code, err, _ = run_cli(capsys, ["benchmark", str(png), "--runs", "0"])
    assert code == 2 and "--runs" in err


@pytest.fixture
def served_board(tmp_path):
    """A real board daemon (``vp-edge board serve``) on loopback UDP, in a deployment file over
    a converted run's look-alike (devices checks a deployment as emulate and gateway do)."""
    make_fake_run(tmp_path)
    model, key, state = tmp_path / "m.tflite", tmp_path / "k.key", tmp_path / "state"
    model.write_bytes(tflite_model("int8"))
    key.write_text("ab" * 16)  # the deployment's master key
    own = tmp_path / "b1.key"  # what board 3 is provisioned with
    own.write_text(derive_board_key(bytes.fromhex("ab" * 16), 3).hex())
    (state / "logs").mkdir(parents=True)
    port = free_udp_port()
    dep = tmp_path / "deploy.toml"
    dep.write_text(
        f'run = "run"\nkey_file = "k.key"\nstate_dir = "state"\n\n[[boards]]\nid = 3\n'
        f'name = "b1"\nkind = "linux"\nlink = "udp://127.0.0.1:{port}"\n'
        'variant = "t16"\n'
    )
    ready = state / "ready" / "b1.json"
    argv = [
        sys.executable,
        "-m",
        "vp_edge",
        "board",
        "serve",
        "--model",
        str(model),
        "--listen",
        f"udp://127.0.0.1:{port}",
        "--board-id",
        "3",
        "--key-file",
        str(own),
        "--ready-file",
        str(ready),
        "--heartbeat-ms",
        "200",
        "--variant",
        "t16",
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with open(state / "logs" / "b1.log", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=log, env=env)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "board did not start"
            time.sleep(0.1)
        yield dep
    finally:
        proc.terminate()
        proc.wait(10)


def test_devices_lists_and_probes_a_deployment_board(capsys, served_board):
    code, err, out = run_cli(
        capsys, ["devices", "--deployment", str(served_board), "--probe", "--json"]
    )
    assert code == 0, err
    (board,) = json.loads(out)["boards"]
    assert board["name"] == "b1" and board["running"] is True
    assert board["hello"]["variant"] == "t16" and board["hello"]["num_classes"] == 10


def test_monitor_follows_heartbeats(capsys, served_board):
    code, err, out = run_cli(
        capsys,
        [
            "monitor",
            "b1",
            "--deployment",
            str(served_board),
            "--count",
            "3",
            "--interval",
            "0.1",
            "--json",
        ],
    )
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert events[0]["event"] == "hello" and events[0]["variant"] == "t16"
    beats = [e for e in events if e["event"] == "heartbeat"]
    assert len(beats) == 3 and all("uptime_s" in b for b in beats)
    assert beats[-1]["rx_ok"] > beats[0]["rx_ok"]  # our own PROBEs, counted by the board
    code, err, _ = run_cli(capsys, ["logs", "nope", "--deployment", str(served_board)])
    assert code == 2 and "no board 'nope'" in err


def test_per_class_accuracy_and_confusion_plot(tmp_path):
    import numpy as np

    from vp_edge.evaluate import confusion_matrix, per_class
    from vp_edge.report import per_class_table, plot_confusion

    y = np.array([0, 0, 1, 1, 2, 2])
    ens = np.array([0, 1, 1, 1, 0, 2])
    m = confusion_matrix(y, ens, 4)
    assert m.tolist() == [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    pc = per_class(y, {"a": y, "ensemble": ens}, 4, ("t-shirt", "bag", "boot", "coat"))
    assert pc["support"] == [2, 2, 2, 0]
    assert pc["accuracy"]["ensemble"] == [0.5, 1.0, 0.5, None]  # coat: not in the test set
    r = {
        "per_class": pc,
        "confusion": m.tolist(),
        "family": "f",
        "rule_default": "reference",
        "k_default": 2,
    }
    rows = per_class_table(r)
    assert any(row.startswith("bag") and "100.00%" in row for row in rows)
    png = plot_confusion(r, tmp_path / "confusion.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_progress_in_a_log_prints_at_most_ten_lines():
    import io

    from vp_edge.progress import Progress, epoch_line

    log = io.StringIO()
    with Progress(1000, "step", stream=log) as bar:
        for _ in range(1000):
            bar.update(1)
        bar.note(epoch_line("joint", 1, 4, {"loss": 1.23456789, "val_t16_accuracy": 0.5}, 3.2))
    lines = log.getvalue().splitlines()
    assert len(lines) == 11 and lines[-2].startswith("step: 1000/1000")
    assert lines[-1] == "joint epoch 1/4: loss 1.2346; val acc t16 50.0% (3 s)"


def test_native_log_lines_are_silenced_only_when_quiet(capfd, monkeypatch):
    from converters.quiet import QUIET_ENV, native_quiet

    monkeypatch.setenv(QUIET_ENV, "1")
    with native_quiet():
        os.write(2, b"I0000 native noise\n")
    monkeypatch.delenv(QUIET_ENV)
    with native_quiet():
        os.write(2, b"shown\n")
    assert capfd.readouterr().err == "shown\n"


def test_emulated_firmware_builds_go_to_the_cache_not_the_package(monkeypatch, tmp_path):
    import firmware_bridge.firmware.qemu as qemu
    from boards.emulators import firmware_elf

    seen = {}
    monkeypatch.setenv("VP_EDGE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(
        qemu,
        "build",
        lambda target, build_dir, defs: (
            seen.update(dir=build_dir, defs=defs) or build_dir / "vp_fw_qemu.elf"
        ),
    )
    elf = firmware_elf(2, 500)
    assert seen["dir"].parent == tmp_path / "cache" and seen["defs"].endswith("500")
    assert (seen["dir"] / ".lock").exists() and elf.parent == seen["dir"]


def test_monitor_by_link_url(capsys, served_board):
    text = served_board.read_text()
    url = text.split('link = "')[1].split('"')[0]
    key = served_board.parent / "k.key"
    code, err, out = run_cli(
        capsys, ["monitor", url, "--board-id", "3", "--key-file", str(key), "--count", "1"]
    )
    assert code == 0, err
    assert out.startswith("HELLO linux t16, k=2, 10 classes") and "\nbeat uptime " in out
    code, err, _ = run_cli(capsys, ["monitor", url, "--board-id", "3"])
    assert code == 2 and "--key-file F or --insecure" in err


def test_a_board_log_holds_no_xnnpack_info_line(served_board):
    """LiteRT's C++ "INFO: Created TensorFlow Lite XNNPACK delegate" stays off stderr (and off a
    board's log, where it would read as a dead board's last words) unless -v is given."""
    log = served_board.parent / "state" / "logs" / "b1.log"
    assert "XNNPACK" not in log.read_text()
