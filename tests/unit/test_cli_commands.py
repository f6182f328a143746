"""The everyday commands on small files made here: benchmark, devices, monitor."""

from __future__ import annotations

import json

from test_cli_guards import run_cli, tflite_model


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
