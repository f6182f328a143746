"""The quick bench on a tiny converted run: report structure and invariants.

The run is the session's shared tiny run (``tiny_run`` in conftest.py: the ``tiny`` preset
trained and converted once per source revision); the bench only reads it.

Speed is never asserted in absolute terms; the checks are the report's own consistency:
every number is tagged measured/modelled/paper, availability follows its formulae, and VP's
RESULT bytes stay below model parallelism's cheapest cut.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.tf, pytest.mark.slow]


@pytest.fixture(scope="module")
def report(tiny_run, tmp_path_factory):
    from vp_edge.cli import main

    out = tmp_path_factory.mktemp("bench-out")
    assert (
        main(
            [
                "bench",
                "--run",
                str(tiny_run),
                "--quick",
                "--out",
                str(out),
                "--json",
                str(out / "cli.json"),
            ]
        )
        == 0
    )
    r = json.loads((out / "report.json").read_text())
    r["_out"] = str(out)
    return r


def test_report_files_and_sections(report):
    from pathlib import Path

    out = Path(report["_out"])
    assert (out / "report.md").read_text().startswith("# vp-edge bench report")
    for name in report["plots"]:
        assert (out / name).stat().st_size > 0
    for key in (
        "model_cost",
        "response_time",
        "communication",
        "failures",
        "gateway_cost",
        "paper_scale",
        "machine",
        "git",
        "config",
        "checks",
    ):
        assert key in report
    assert report["machine"]["cpu_count"] >= 1
    assert "revision" in report["git"] and "dirty" in report["git"]
    assert report["config"]["mode"] == "quick" and report["config"]["repeats"] == 3


def test_every_number_is_tagged(report):
    from experiments.bench import KINDS, untagged_numbers, walk_figs

    r = {k: v for k, v in report.items() if k != "_out"}
    assert untagged_numbers(r) == []
    kinds = {f["kind"] for _, f in walk_figs(r)}
    assert kinds <= set(KINDS) and {"measured", "modelled", "paper"} <= kinds


def test_availability_follows_the_formulae(report):
    from experiments.bench import value

    n = value(report["failures"]["boards"])
    for a in report["failures"]["availability"]:
        p = value(a["p"])
        assert value(a["analytic"]["vp"]) == pytest.approx(1 - p**n, rel=1e-5)
        assert value(a["analytic"]["mp"]) == pytest.approx((1 - p) ** n, rel=1e-5)
        assert value(a["analytic"]["vp"]) >= value(a["analytic"]["mp"]) - 1e-12
        inj = a["fault_injection"]
        assert value(inj["vp_available"]) >= value(inj["mp_available"])
        assert value(inj["vp_available"]) == pytest.approx(1 - p**n, abs=0.1)
        assert value(inj["mp_available"]) == pytest.approx((1 - p) ** n, abs=0.1)
    no_faults = report["failures"]["availability"][0]
    assert value(no_faults["p"]) == 0
    assert value(no_faults["fault_injection"]["vp_accuracy"]) == pytest.approx(
        value(report["model_cost"]["ensemble_accuracy"])
    )


def test_vp_bytes_below_model_parallelism(report):
    from experiments.bench import value

    c = report["communication"]
    total = value(c["vp"]["result_total_udp_bytes"])
    assert total < value(c["mp"]["cheapest"]["activation_bytes"])
    assert all(
        value(x["activation_bytes"]) >= value(c["mp"]["cheapest"]["activation_bytes"])
        for x in c["mp"]["cuts"]
        if x["region"] == "trunk"
    )
    assert report["checks"]["vp_result_bytes_below_mp_cheapest_cut"] is True


def test_paper_scale_graphs(report):
    """224x224 int8 graphs: MobileNetV2's own arithmetic, read back from our converter's output."""
    from experiments.bench import value

    ps = report["paper_scale"]
    assert "models" in ps, ps
    cut = ps["mp_cheapest_cut"]
    assert cut["shape"] == [[1, 7, 7, 160]] and value(cut["activation_bytes"]) == 7840
    small = ps["models"]["a035_r96"]
    # alpha 0.35 at r=96, F=256, C=10 against MobileNetV2-1.0@224 (Keras definitions)
    assert value(small["macs_ratio"]) == pytest.approx(31.12, abs=0.01)
    assert value(small["params_ratio"]) == pytest.approx(7.72, abs=0.01)
    frame = value(report["communication"]["vp"]["result_frame_udp_bytes"])
    assert value(ps["ratio_per_board"]) == pytest.approx(7840 / frame, rel=1e-4)
    assert report["checks"]["vp_100x_below_mp_at_224_per_board"] is True
    assert value(ps["compute_ratio_fastest"]) > 1


def test_response_times_compose(report):
    from experiments.bench import value

    rt = report["response_time"]
    for engine in ("litert-ref", "tflm", "c-engine"):
        rows = rt["compute"][engine]
        assert all(value(r["compute_s"]) > 0 for r in rows.values()), engine
    for name, s in rt["composed"]["scenarios"].items():
        if "vp_s" in s:
            boards = [value(b) for b in s["boards_s"].values()]
            assert value(s["vp_s"]) >= max(boards), name
            if "ratio" in s:
                assert value(s["ratio"]) == pytest.approx(
                    value(s["baseline_s"]) / value(s["vp_s"]), rel=1e-4
                )
    assert value(report["gateway_cost"]["vote"]["votes_per_s"]) > 0


def test_gateway_parts_agree_with_offline(report):
    from experiments.bench import value

    gw = report["response_time"]["gateway"]
    assert "vp" in gw and "baseline" in gw, gw.get("error")
    assert value(gw["vp"]["added_latency_s"]["p50"]) >= 0
    for row in report["failures"]["gateway_m_alive"]:
        assert value(row["live_accuracy"]) == pytest.approx(value(row["offline_accuracy"]))
        assert value(row["answered"]) == 1.0
    for row in report["failures"]["gateway_fault_injection"]:
        assert 0.0 <= value(row["accuracy"]) <= value(row["available"]) <= 1.0
