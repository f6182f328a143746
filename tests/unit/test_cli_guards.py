"""Bad input from a hostile user: one line on stderr and the right exit code, never a traceback.

Each case calls ``vp_edge.cli.main`` in-process (no subprocess, no training): argument types
refuse bad numbers before any work starts; the rest need only small files made here.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from converters.quiet import QUIET_ENV
from vp_edge.cli import main


def tflite_model(dtype: str, classes: int = 10) -> bytes:
    """A one-op (RESHAPE) .tflite with a [1, classes] input and output, built from the schema."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    def tensor(name: str) -> s.TensorT:
        t = s.TensorT()
        t.shape, t.buffer, t.name = [1, classes], 0, name
        t.type = s.TensorType.INT8 if dtype == "int8" else s.TensorType.FLOAT32
        if dtype == "int8":
            q = s.QuantizationParametersT()
            q.scale, q.zeroPoint = [1 / 256], [-128]
            t.quantization = q
        return t

    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    op.builtinOptionsType = s.BuiltinOptions.ReshapeOptions
    op.builtinOptions = s.ReshapeOptionsT()
    op.builtinOptions.newShape = [1, classes]
    sg = s.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators = [tensor("x"), tensor("y")], [0], [1], [op]
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.RESHAPE
    code.version = 1
    m = s.ModelT()
    m.version, m.operatorCodes, m.subgraphs, m.buffers = 3, [code], [sg], [s.BufferT()]
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(capsys: pytest.CaptureFixture, argv: list[str]) -> tuple[int, str, str]:
    """Exit code (argparse's SystemExit included), stderr and stdout of one CLI call."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    cap = capsys.readouterr()
    return code, cap.err, cap.out


def assert_one_line(err: str, *needles: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A float and an int8 model, a key, a PNG, a plain file and a non-UTF-8 deployment."""
    from PIL import Image

    out = {
        "float": tmp_path / "float.tflite",
        "int8": tmp_path / "int8.tflite",
        "key": tmp_path / "k.key",
        "png": tmp_path / "shoe.png",
        "file": tmp_path / "afile",
        "latin1": tmp_path / "deploy.toml",
    }
    out["float"].write_bytes(tflite_model("float32"))
    out["int8"].write_bytes(tflite_model("int8"))
    out["key"].write_text("00" * 16)
    Image.new("L", (28, 28)).save(out["png"])
    out["file"].write_text("x")
    out["latin1"].write_bytes('run = "r"  # caf\xe9\n'.encode("latin-1"))
    return out


# (argv, exit code, words of the one-line message); {name} is replaced by files[name]
CASES = [
    (
        ["classify", "{png}", "--gateway", "udp://127.0.0.1:9", "--timeout", "-1"],
        2,
        ["--timeout", "must be > 0"],
    ),
    (["classify", "{png}", "--gateway", "udp://nohost"], 2, ["--gateway", "udp://HOST:PORT"]),
    (["classify", "{png}", "--gateway", "tcp://127.0.0.1:5"], 2, ["--gateway"]),
    (["train", "--family", "tiny", "--out", "{file}"], 2, ["--out", "is a file"]),
    (["train", "--family", "tiny", "--out", "/proc/x/y"], 2, ["--out /proc/x/y", "cannot create"]),
    (["train", "--out", "r", "--epochs", "-1"], 2, ["--epochs", "must be >= 1, got -1"]),
    (["train", "--out", "r", "--epochs", "0"], 2, ["--epochs", "must be >= 1"]),
    (["train", "--out", "r", "--lr", "nan"], 2, ["--lr", "finite"]),
    (["bench", "--run", "r", "--repeats", "0"], 2, ["--repeats", "must be >= 1"]),
    (
        ["flash", "{int8}", "--board", "udp://127.0.0.1:9", "--insecure", "--board-id", "70000"],
        2,
        ["--board-id", "must be <= 65535, got 70000"],
    ),
    (
        [
            "board",
            "serve",
            "--model",
            "{int8}",
            "--listen",
            "udp://127.0.0.1:9",
            "--board-id",
            "1",
            "--insecure",
            "--heartbeat-ms",
            "-5",
        ],
        2,
        ["--heartbeat-ms", "must be >= 10"],
    ),
    (
        [
            "board",
            "serve",
            "--model",
            "{int8}",
            "--listen",
            "udp://127.0.0.1:9",
            "--board-id",
            "1",
            "--insecure",
            "--heartbeat-ms",
            "0",
        ],
        2,
        ["--heartbeat-ms"],
    ),
    (
        [
            "board",
            "serve",
            "--model",
            "{int8}",
            "--listen",
            "udp://127.0.0.1:{port}",
            "--board-id",
            "1",
            "--insecure",
            "-k",
            "11",
        ],
        2,
        ["-k 11", "10 classes"],
    ),
    (
        [
            "board",
            "serve",
            "--model",
            "{float}",
            "--listen",
            "udp://127.0.0.1:{port}",
            "--board-id",
            "1",
            "--insecure",
        ],
        2,
        ["float32", "full-int8", "vp-edge convert"],
    ),
    (
        [
            "board",
            "serve",
            "--model",
            "{int8}",
            "--listen",
            "udp://127.0.0.1:{port}",
            "--board-id",
            "1",
            "--insecure",
            "--runner",
            "tflm",
            "--kernels",
            "ref",
        ],
        2,
        ["--kernels ref", "litert runner", "not tflm"],
    ),
    (["gateway", "--deployment", "{latin1}", "--split", "test"], 2, ["not UTF-8"]),
    (["emulate", "--deployment", "{latin1}"], 2, ["not UTF-8"]),
    (["pack", "{png}"], 2, ["PNG image", "not a .tflite"]),
    (["evaluate", "--run", "r", "--test-limit", "0"], 2, ["--test-limit"]),
    (
        ["gateway", "--deployment", "d.toml", "--split", "test", "--inflight", "0"],
        2,
        ["--inflight"],
    ),
]


@pytest.mark.parametrize(("argv", "code", "words"), CASES, ids=[" ".join(c[0][:4]) for c in CASES])
def test_bad_input_is_one_line_and_exit_code(capsys, files, argv, code, words):
    port = str(free_udp_port())
    argv = [a.format(port=port, **files) for a in argv]
    got, err, _ = run_cli(capsys, argv)
    assert got == code, err
    assert_one_line(err, *words)


def test_classify_timeout_exits_5(capsys, files):
    """Nothing answers on a bound but silent port: a timeout (5), not a link error (3)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        url = f"udp://127.0.0.1:{silent.getsockname()[1]}"
        got, err, _ = run_cli(
            capsys, ["classify", str(files["png"]), "--gateway", url, "--timeout", "0.2"]
        )
    assert got == 5
    assert_one_line(err, "no answer", "0.2 s")


def test_json_errors_are_json_on_stdout(capsys, tmp_path):
    got, err, out = run_cli(capsys, ["convert", "--run", str(tmp_path / "none"), "--json"])
    assert got == 2
    doc = json.loads(out)
    assert doc["ok"] is False and doc["exit_code"] == 2 and "vp-edge train" in doc["error"]
    got, err, out = run_cli(capsys, ["train", "--out", "r", "--epochs", "-1", "--json"])
    assert got == 2 and json.loads(out)["exit_code"] == 2


def test_verbose_after_the_subcommand_and_version(capsys):
    got, _, out = run_cli(capsys, ["family", "list", "-v", "--json"])
    assert got == 0 and "tiny" in json.loads(out)
    assert os.environ[QUIET_ENV] == "0"  # library log lines shown
    assert run_cli(capsys, ["family", "list"])[0] == 0
    assert os.environ[QUIET_ENV] == "1"
    got, _, out = run_cli(capsys, ["--version"])
    assert got == 0 and out.startswith("vp-edge ")


def test_help_shows_defaults(capsys):
    got, _, out = run_cli(capsys, ["train", "--help"])
    assert got == 0
    assert "(default: 4)" in out  # --epochs
    assert "(default: 0.002)" in out  # --lr


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"deadline_ms": float("nan")}, ["deadline_ms", "finite"]),
        ({"deadline_ms": 1e12}, ["deadline_ms", "must be <="]),
        ({"heartbeat_ms": -5}, ["heartbeat_ms", "must be >= 10"]),
    ],
)
def test_deployment_numbers_are_checked(tmp_path, extra, words):
    from vp_edge.deployment import parse_deployment
    from vp_edge.errors import DeploymentError

    d = {"run": "r", "insecure": True, **extra, "boards": [_board(1, 5601)]}
    with pytest.raises(DeploymentError) as e:
        parse_deployment(d, tmp_path, "d.toml")
    for w in words:
        assert w in str(e.value)


def test_two_boards_on_one_udp_port_are_refused(tmp_path):
    from vp_edge.deployment import parse_deployment
    from vp_edge.errors import DeploymentError

    d = {"run": "r", "insecure": True, "boards": [_board(1, 5601), _board(2, 5601)]}
    with pytest.raises(DeploymentError, match=r"boards\[1\]\.link.*boards\[0\]"):
        parse_deployment(d, tmp_path, "d.toml")
    d["boards"][1] = _board(2, 5602)
    assert len(parse_deployment(d, tmp_path, "d.toml").boards) == 2


def test_boards_on_one_broker_url_are_distinct(tmp_path):
    """mqtt://BROKER/DEPLOYMENT names no board: each board completes it with its id."""
    from vp_edge.deployment import parse_deployment
    from vp_edge.errors import DeploymentError

    url = "mqtt://127.0.0.1:1883/fleet"
    boards = [{**_board(i, 5600 + i), "link": url} for i in (1, 2)]
    d = {"run": "r", "insecure": True, "boards": boards}
    assert len(parse_deployment(d, tmp_path, "d.toml").boards) == 2
    d["boards"][1]["link"] = url + "/1"  # board 2 on board 1's topics
    with pytest.raises(DeploymentError, match=r"boards\[1\]\.link.*boards\[0\]"):
        parse_deployment(d, tmp_path, "d.toml")


@pytest.mark.parametrize(
    ("extra", "kind", "words"),
    [
        ({"kernels": "fast"}, "linux", ["boards[0].kernels", "unknown kernels 'fast'", "xnnpack"]),
        ({"kernels": 3}, "linux", ["boards[0].kernels", "must be str"]),
        ({"kernels": "ref"}, "mcu", ["boards[0].kernels", "runs tflm", "only linux boards"]),
    ],
)
def test_deployment_kernels_are_checked(capsys, tmp_path, extra, kind, words):
    """A bad ``kernels`` key: one line naming the key, exit 2 (here through 'vp-edge boards')."""
    from vp_edge.deployment import deployment_toml

    board = {**_board(1, 5601), **extra}
    if kind == "mcu":
        board.update(kind="mcu", link="pty://m1")
    path = tmp_path / "d.toml"
    path.write_text(deployment_toml({"run": "r", "insecure": True}, [board]))
    code, err, _ = run_cli(capsys, ["boards", "--deployment", str(path)])
    assert code == 2
    assert_one_line(err, *words)


def test_deployment_kernels_default_and_shown(capsys, tmp_path):
    """Linux boards default to XNNPACK; other kinds have no kernels; 'vp-edge boards' shows it."""
    import json

    from vp_edge.deployment import deployment_toml, parse_deployment

    boards = [
        _board(1, 5601),
        {**_board(2, 5602), "kernels": "ref"},
        {**_board(3, 5603), "kind": "mcu", "link": "pty://m3"},
    ]
    d = {"run": "r", "insecure": True}
    dep = parse_deployment({**d, "boards": boards}, tmp_path, "d.toml")
    assert [b.kernels for b in dep.boards] == ["xnnpack", "ref", ""]
    assert [b.runtime for b in dep.boards] == ["litert-xnnpack", "litert-ref", "tflm"]
    path = tmp_path / "d.toml"
    path.write_text(deployment_toml(d, boards))
    code, err, out = run_cli(capsys, ["boards", "--deployment", str(path), "--json"])
    assert code == 0, err
    got = json.loads(out)
    assert [b["runtime"] for b in got["deployment"]] == ["litert-xnnpack", "litert-ref", "tflm"]
    assert got["kinds"]["linux"]["kernels"] == {
        "default": "xnnpack",
        "choices": ["ref", "builtin", "xnnpack"],
    }
    code, _, out = run_cli(capsys, ["boards", "--deployment", str(path)])
    assert code == 0 and "runs litert-ref" in out and "kernels xnnpack by default" in out


def _board(i: int, port: int) -> dict:
    return {
        "id": i,
        "name": f"b{i}",
        "kind": "linux",
        "link": f"udp://127.0.0.1:{port}",
        "variant": "t16",
    }


def test_gateway_exit_code_when_every_answer_is_degraded():
    from vp_edge.gateway.batch import exit_policy

    boards = {"a": {"refused": None}, "b": {"refused": "model hash differs"}}
    assert exit_policy({"errors": 0, "requests": 4, "degraded": 4, "boards": boards}) == (
        3,
        "every answer was degraded; refused: b",
    )
    assert exit_policy({"errors": 0, "requests": 4, "degraded": 3, "boards": boards}) == (0, None)
    assert exit_policy({"errors": 1, "requests": 4, "degraded": 0, "boards": boards}) == (3, None)


def test_bench_writes_beside_the_run_by_default(monkeypatch, tmp_path) -> None:
    """Not into the installed tree's committed bench/results."""
    import experiments.bench as bench
    from vp_edge.cli import main

    seen = {}

    def fake(cfg):
        seen["out"] = cfg.out
        raise SystemExit(0)

    monkeypatch.setattr(bench, "run_bench", fake)
    with pytest.raises(SystemExit):
        main(["bench", "--run", str(tmp_path / "run")])
    assert seen["out"] == tmp_path / "run" / "bench"
