"""``vp_edge.benchmark``'s decisions without timing anything: the rows asked for, what fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from vp_edge.benchmark import ALL_RUNTIMES, benchmark_file, failed, parse_runtimes
from vp_edge.errors import UsageError


def test_parse_runtimes() -> None:
    assert parse_runtimes(None) is None
    assert parse_runtimes("") is None
    assert parse_runtimes(" engine , tflm,") == ("engine", "tflm")
    with pytest.raises(UsageError, match="unknown gpu, npu; known: " + ALL_RUNTIMES[0]):
        parse_runtimes("engine,npu,gpu")


def test_failed_rows() -> None:
    report = {"runtimes": {"a": {"ms": 1}, "b": {"error": "x"}, "c": {"skipped": "no qemu"}}}
    assert failed(report, named=False) == ["b"]
    assert failed(report, named=True) == ["b", "c"]  # a row the user named must run


def test_model_checked_before_the_rows(tmp_path: Path) -> None:
    png = tmp_path / "x.tflite"
    png.write_bytes(b"\x89PNG....")
    with pytest.raises(UsageError, match="is a PNG image"):
        benchmark_file(png, runtimes="nope")  # the model's fault is named first, as before
