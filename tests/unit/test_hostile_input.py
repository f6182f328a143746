"""Issue 29's list of hostile and careless input, each fed as a user would through
``vp_edge.cli.main``: one line on stderr naming the thing, the documented exit code, no hang and
no unbounded memory (devices such as /dev/zero are read through a bound)."""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import pytest

from vp_edge.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "boards"))
from board_helpers import KEY, make_fake_run

from vp_edge.deployment import deployment_toml


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    """Exit code and stderr of ``vp-edge ARGV`` (argparse's SystemExit included)."""
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = int(e.code or 0)
    err = capsys.readouterr().err.strip()
    return code, err


def one_line(err: str) -> str:
    assert err and "\n" not in err and "Traceback" not in err, err
    return err


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize(
    "argv, names",
    [
        (["classify", "--gateway", "udp://127.0.0.1:9", "/dev/zero"], "image /dev/zero"),
        (["keys", "derive", "--board-id", "1", "--key-file", "/dev/zero"], "--key-file /dev/zero"),
        (["train", "--family", "/dev/zero", "--out", "unused"], "family file /dev/zero"),
    ],
)
def test_devices_of_unknown_size_are_read_through_a_bound(
    capsys, argv, names, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    before = max_rss_mb()
    code, err = run_cli(capsys, *argv)
    assert code == 2
    assert names in one_line(err) and "larger than" in err
    assert max_rss_mb() - before < 200
    assert not (tmp_path / "unused").exists()


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["load", "--gateway", "udp://127.0.0.1:9", "--images", ".", "--rates", "nan"], "--rates"),
        (
            ["load", "--gateway", "udp://127.0.0.1:9", "--images", ".", "--rates", "10,inf"],
            "--rates",
        ),
        (
            ["load", "--gateway", "udp://127.0.0.1:9", "--images", ".", "--seconds", "nan"],
            "--seconds",
        ),
        (
            [
                "gateway",
                "--listen",
                "udp://127.0.0.1:0",
                "--deployment",
                "d.toml",
                "--metrics",
                "127.0.0.1:99999",
            ],
            "--metrics",
        ),
        (["train", "--epochs", "99999999999999999999", "--out", "r"], "--epochs"),
        (["train", "--out", ""], "--out"),
        (["train", "--kd-weight", "nan", "--out", "r"], "--kd-weight"),
        (
            [
                "bridge",
                "serial:///dev/ttyNOPE",
                "mqtt://127.0.0.1:1/dep",
                "--board-id",
                "1",
                "--baud",
                "0",
            ],
            "--baud",
        ),
        (
            ["bridge", "serial:///dev/ttyNOPE", "mqtt://127.0.0.1:1/dep", "--board-id", "70000"],
            "--board-id",
        ),
        (["keys", "derive", "--board-id", "-1", "--key-file", "k"], "--board-id"),
        (["flash", "x.vpw", "--link", "udp://127.0.0.1:9", "--baud", "0"], "--baud"),
    ],
)
def test_every_number_is_checked_before_work_starts(capsys, argv, fragment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(capsys, *argv)
    assert code == 2, err
    assert fragment in one_line(err)
    assert not (tmp_path / "r").exists() and list(tmp_path.iterdir()) == []


def test_bridge_to_a_missing_serial_device_fails_fast(capsys):
    t0 = time.monotonic()
    code, err = run_cli(
        capsys, "bridge", "serial:///dev/ttyNOPE", "mqtt://127.0.0.1:1/dep", "--board-id", "1"
    )
    assert code == 3 and "/dev/ttyNOPE" in one_line(err)
    code, err = run_cli(
        capsys, "bridge", "pty://nosuch", "mqtt://127.0.0.1:1/dep", "--board-id", "1"
    )
    assert code == 2 and "--pty-dir" in one_line(err)
    assert time.monotonic() - t0 < 10


def test_a_failed_train_leaves_no_run_folder(capsys, tmp_path):
    out = tmp_path / "new-run"
    code, err = run_cli(
        capsys, "train", "--family", "tiny", "--out", str(out), "--data", str(tmp_path / "nowhere")
    )
    assert code == 2 and "nowhere" in one_line(err)
    assert not out.exists()


def test_an_mcu_board_refuses_a_udp_listen_link_as_deployments_do(capsys, tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"\0\0\0\0TFL3" + b"\0" * 64)
    code, err = run_cli(
        capsys,
        "board",
        "serve",
        "--kind",
        "mcu",
        "--model",
        str(model),
        "--listen",
        "udp://127.0.0.1:0",
        "--board-id",
        "1",
        "--insecure",
    )
    assert code == 2
    assert "--listen udp://127.0.0.1:0: a mcu board takes serial" in one_line(err)


def _deployment(tmp_path: Path, **top: object) -> Path:
    """A deployment file over a fake converted run, with ``top`` keys overriding the defaults."""
    doc = {
        "run": str(make_fake_run(tmp_path)),
        "key": KEY.hex(),
        "k": 2,
        "rule": "reference",
        "deadline_ms": 300,
        **top,
    }
    boards = [
        {"id": 1, "name": "pi1", "kind": "linux", "link": "udp://127.0.0.1:7001", "variant": "t16"}
    ]
    path = tmp_path / "deploy.toml"
    path.write_text(deployment_toml(doc, boards))
    return path


@pytest.mark.parametrize(
    "top, fragment",
    [
        ({"k": 0}, "k"),
        ({"k": 6}, "k"),
        ({"state_dir": "/proc/vp-edge-state"}, "state_dir"),
        ({"run": "/nonexistent-run"}, "run"),
    ],
)
def test_devices_refuses_the_deployments_that_emulate_and_gateway_refuse(
    capsys, tmp_path, top, fragment
):
    path = _deployment(tmp_path, **top)
    code, err = run_cli(capsys, "devices", "--deployment", str(path))
    assert code == 2, err
    assert fragment in one_line(err)
    code_gw, _ = run_cli(
        capsys, "gateway", "--deployment", str(path), "--listen", "udp://127.0.0.1:0"
    )
    assert code_gw == code


def test_a_full_disk_names_the_file(capsys):
    """ENOSPC comes from write(), whose OSError carries no file name: the message still has it."""
    code, err = run_cli(capsys, "family", "show", "tiny", "--json", "/dev/full")
    assert code == 2
    assert one_line(err) == "vp-edge: error: /dev/full: No space left on device"


def test_writing_names_the_file_a_library_save_failed_on(tmp_path):
    import errno

    from firmware_bridge.files import writing

    target = tmp_path / "weights.h5"
    with pytest.raises(OSError) as e, writing(target):
        raise OSError(errno.ENOSPC, "No space left on device")  # as h5py's or Keras' save does
    assert e.value.filename == str(target) and e.value.errno == errno.ENOSPC
