"""vp-edge plan: shapes, link framing, fleet files, the search and its refusals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from firmware_bridge.protocol import cobs
from vp_edge.cli import main
from vp_edge.plan import make_plan, write_plan
from vp_edge.plan.costs import COSTS_FILE, CostModel, CostModelError, fit_rows, load_costs
from vp_edge.plan.fleet import PlanError, parse_fleet
from vp_edge.plan.link import link_cost
from vp_edge.plan.shapes import Layer, Shape, counts

DOC = {"input_shape": [28, 28, 1], "num_classes": 10, "stem_stride": 2, "output_stride": 16}
GRID = [
    (16, 0.35, 128),
    (20, 0.5, 192),
    (24, 0.35, 256),
    (28, 0.75, 128),
    (32, 0.5, 320),
    (40, 0.35, 256),
    (40, 1.0, 384),
    (24, 1.0, 128),
]


def synthetic_costs() -> CostModel:
    """Rows that are exact linear functions of the counts: the fits must reproduce them."""
    rows = []
    for r, a, f in GRID:
        c = counts(Shape(r, a, f, 1, 10, 2, 16, input_hw=(28, 28)))
        rows.append(
            {
                "resolution": r,
                "alpha": a,
                "head": f,
                "tflite_bytes": c.weights + 12 * c.channels + 9000,
                "vpw_generic_bytes": c.weights + 9 * c.channels + 2000,
                "vpw_arm_bytes": c.weights + 9 * c.channels + 2100,
                "arena_engine": c.peak_live + 500,
                "arena_tflm": 2 * c.peak_live + 70000,
                "cortex-m4_instructions": 2 * c.macs + 5 * c.outputs_by_kind["dw"] + 30000,
                "cortex-m7_instructions": c.macs + 30000,
                "xnnpack_ms": c.macs * 2e-8 + 0.01,
                "engine_ms": c.macs * 1e-7 + 0.02,
            }
        )
    return CostModel(fit_rows(DOC | {"rows": rows}), {"date": "synthetic"})


FLEET = {
    "deadline_ms": 100,
    "k": 2,
    "input_shape": [28, 28, 1],
    "num_classes": 10,
    "boards": [
        {"name": "f405", "kind": "qemu", "profile": "stm32f405", "link": "pty://f405", "count": 2},
        {
            "name": "pi",
            "kind": "linux",
            "profile": "raspberry-pi-4",
            "link": "udp://127.0.0.1:5601",
            "count": 2,
        },
        {"name": "pynq", "kind": "pynq", "profile": "pynq-z2", "link": "udp://127.0.0.1:5611"},
    ],
}


@pytest.mark.slow
@pytest.mark.tf
def test_shapes_count_what_keras_builds() -> None:
    pytest.importorskip("tensorflow")
    from converters.card import keras_macs
    from vp_edge.family import PRESETS, Variant
    from vp_edge.models import baseline_model, variant_model
    from vp_edge.plan.shapes import baseline_shape, shape_of

    fam = PRESETS["fashion"]
    for v in (fam.variants[0], Variant("x", 20, 0.75, 128)):
        m = variant_model(fam, v)
        c = counts(shape_of(fam, v))
        assert (c.keras_params, c.macs) == (m.count_params(), keras_macs(m))
    b = baseline_model(fam)
    c = counts(baseline_shape(shape_of(fam, fam.variants[0]), 40))
    assert (c.keras_params, c.macs) == (b.count_params(), keras_macs(b))


def test_link_bytes_follow_the_protocol_tables() -> None:
    # PROTOCOL.md: INFER frame 44 + L, RESULT 37 + 3k; serial adds COBS and one 0x00
    udp = link_cost(784, 5, "ethernet", None)
    assert (udp.infer_bytes, udp.result_bytes, udp.frames) == (44 + 784, 52, 2)
    ser = link_cost(784, 2, "uart", 115200)
    infer, result = 44 + 784, 37 + 6
    assert ser.infer_bytes == cobs.max_encoded_len(infer) + 1
    assert ser.result_bytes == result + math.ceil(result / 254) + 1
    assert ser.seconds == pytest.approx((ser.infer_bytes + ser.result_bytes) * 10 / 115200)
    big = link_cost(3000, 2, "ethernet", None)
    assert big.frames == 3 + 1  # 1156-byte chunks at max_frame 1200


def test_fleet_numbers_boards_and_names_errors() -> None:
    f = parse_fleet(FLEET)
    assert f.classes[0].links == ("pty://f405-1", "pty://f405-2")
    assert f.classes[1].links == ("udp://127.0.0.1:5601", "udp://127.0.0.1:5602")
    assert f.classes[0].board_names() == ["f405-1", "f405-2"]
    for bad, words in (
        ({"kind": "toaster"}, "not a board kind"),
        ({"kind": "qemu", "profile": "nope"}, "unknown profile"),
        ({"kind": "qemu", "count": 0}, "count"),
        ({"kind": "mcu", "link": "serial:///dev/ttyUSB0", "count": 2}, "needs a udp"),
    ):
        with pytest.raises(PlanError, match=words):
            parse_fleet(FLEET | {"boards": [bad]})
    with pytest.raises(PlanError, match="deadline_ms"):
        parse_fleet(FLEET | {"deadline_ms": -5})


def test_plan_gives_each_board_the_largest_fitting_variant() -> None:
    costs = synthetic_costs()
    plan = make_plan(parse_fleet(FLEET), costs=costs)
    rows = {r.board: r for r in plan.rows}
    assert set(rows) == {"f405-1", "f405-2", "pi-1", "pi-2", "pynq"}
    for r in plan.rows:
        e = r.estimate
        assert not e.problems() and e.margin_ms >= 0
        assert e.model_bytes <= e.model_limit and e.arena <= e.arena_limit
    # diversity: boards of one class run different resolutions
    assert rows["pi-1"].estimate.shape.resolution != rows["pi-2"].estimate.shape.resolution
    # within the paper's bounds against the baseline at the family's largest resolution
    assert all(v.name in {r.variant for r in plan.rows} for v in plan.family.variants)


def test_impossible_fleet_is_refused_one_line_per_board(tmp_path, capsys) -> None:
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(
        "deadline_ms = 20\ninput_shape = [28, 28, 1]\nnum_classes = 10\n"
        '[[boards]]\nname = "slow"\nkind = "qemu"\nprofile = "stm32f405"\ncount = 2\n'
        '[[boards]]\nname = "pi"\nkind = "linux"\nprofile = "raspberry-pi-4"\n'
        'link = "udp://127.0.0.1:5601"\n'
    )
    with pytest.raises(PlanError) as e:
        make_plan(
            parse_fleet(__import__("tomllib").loads(fleet.read_text())), costs=synthetic_costs()
        )
    lines = str(e.value).splitlines()
    assert [ln.split(":")[0] for ln in lines[1:]] == ["slow-1", "slow-2"]
    assert all("115200" in ln or "deadline" in ln for ln in lines[1:])
    if COSTS_FILE.exists():
        assert main(["plan", str(fleet), "--out", str(tmp_path / "p")]) == 2
        assert "slow-1" in capsys.readouterr().err


def test_written_plan_trains_and_deploys(tmp_path) -> None:
    import tomllib

    from vp_edge.family import load_family

    plan = make_plan(parse_fleet(FLEET), costs=synthetic_costs())
    paths = write_plan(plan, tmp_path)
    fam = load_family(paths["family"])
    dep = tomllib.loads(paths["deployment"].read_text())
    assert {b["variant"] for b in dep["boards"]} == {v.name for v in fam.variants}
    assert [b["name"] for b in dep["boards"]] == [r.board for r in plan.rows]


@pytest.mark.skipif(not COSTS_FILE.exists(), reason="no costs.json (experiments.plan_calibrate)")
def test_measured_fits_reproduce_their_rows(tmp_path) -> None:
    costs = load_costs()
    assert {"vpw_arm_bytes", "arena_engine", "cortex-m4_instructions"} <= set(costs.fits)
    for q, fit in costs.fits.items():  # docs/planning.md: the instruction fit is the weak one
        if q.endswith("_bytes"):
            assert fit.max_rel_error <= 0.01, (q, fit)
        elif q.startswith("arena"):
            assert fit.max_rel_error <= 0.10, (q, fit)
    out = tmp_path / "plan"
    assert (
        main(
            [
                "plan",
                "docs/fleets/mixed.toml",
                "--out",
                str(out),
                "--json",
                str(tmp_path / "p.json"),
            ]
        )
        == 0
    )
    doc = json.loads((tmp_path / "p.json").read_text())
    assert len(doc["boards"]) == 6


def test_engine_hash_follows_names_and_contents_not_folders(tmp_path) -> None:
    """Moving the C engine's sources to other folders keeps the calibration fresh; editing or
    renaming one makes it stale."""
    from vp_edge.plan.costs import BRIDGE_DIR, engine_file_names, engine_sources_sha256

    names = engine_file_names()
    sources = {p.name: p.read_bytes() for p in BRIDGE_DIR.rglob("*.[ch]") if p.name in names}
    assert "vp_pyshim.c" not in sources and "vp_engine.h" in sources
    assert {"vp_engine.c", "vp_kernels.c"} <= set(sources)
    moved = tmp_path / "moved"
    for i, (name, data) in enumerate(sorted(sources.items())):  # spread over new subfolders
        path = moved / ("engine/c" if i % 2 else "kernels") / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (moved / "other.c").write_bytes(b"int unrelated;\n")  # not an engine source
    assert engine_sources_sha256(moved) == engine_sources_sha256()
    edited = next(moved.rglob("vp_kernels.c"))
    edited.write_bytes(sources["vp_kernels.c"] + b"/* changed */\n")
    assert engine_sources_sha256(moved) != engine_sources_sha256()
    edited.write_bytes(sources["vp_kernels.c"])
    edited.rename(edited.with_name("vp_kernels_m4.c"))
    assert engine_sources_sha256(moved) != engine_sources_sha256()
    with pytest.raises(CostModelError, match="no C engine sources"):
        engine_sources_sha256(tmp_path / "empty")


def test_kernel_terms_count_the_blocks_the_kernels_run() -> None:
    """Two pixels x two output channels per block over K in steps of four; depthwise four
    channels a tap; a one-pixel layer still runs a whole block."""
    from vp_edge.plan.shapes import Layer, kernel_terms

    layers = [
        Layer("pw", (3, 3, 8), (3, 3, 6)),  # 9 px -> 5 blocks of pixels, 3 of channels, K 8
        Layer("dw", (2, 2, 6), (2, 2, 6), 3),  # 4 px x ceil(6 / 4) x 9 taps
        Layer("add", (2, 2, 6), (2, 2, 6)),
        Layer("fc", (1, 1, 10), (1, 1, 3)),  # 1 px -> 1 block of pixels, 2 of channels, K 10
    ]
    steps, blocks, outs, dw_steps, dw_outs, other = kernel_terms(layers)
    assert (blocks, steps) == (5 * 3 + 1 * 2, 5 * 3 * 2 + 1 * 2 * 3)
    assert (outs, dw_steps, dw_outs, other) == (54 + 3, 4 * 2 * 9, 24, 24)


def test_held_out_error_is_measured_on_rows_left_out() -> None:
    """Exact rows: no error left out either; one row off the model: the fit hides part of it on
    its own rows, leaving it out shows it whole."""
    from vp_edge.plan.costs import _loo

    rng = np.random.default_rng(0)
    x = np.column_stack([rng.uniform(1, 10, 12), rng.uniform(1, 10, 12), np.ones(12)])
    y = x @ np.array([3.0, 2.0, 5.0])
    assert _loo(x, y) < 1e-9
    y[4] *= 1.3
    own = np.abs(x @ np.linalg.lstsq(x, y, rcond=None)[0] - y) / y
    assert _loo(x, y) > own.max()
    assert _loo(x[:4], y[:4]) is None


def test_the_engine_arena_counts_the_kernels_scratch() -> None:
    """vp_scratch_need: a 1x1 CONV_2D reads in place and widens four pixels of K to int16 (8
    bytes per K rounded up to 4) beside 16 bytes of requantisation per channel; a 3x3 one adds
    two im2col rows and widens two; depthwise and fully connected layers need none."""
    assert Layer("pw", (4, 4, 13), (4, 4, 24), 1).scratch == 8 * 16 + 16 * 24
    assert Layer("conv", (28, 28, 1), (14, 14, 8), 3).scratch == 2 * 12 + 4 * 12 + 16 * 8
    assert Layer("dw", (4, 4, 24), (4, 4, 24), 3).scratch == 0
    assert Layer("fc", (1, 1, 64), (1, 1, 10), 1).scratch == 0


def test_arena_rows_packed_for_older_kernels_are_left_out() -> None:
    doc: dict = {
        "input_shape": [28, 28, 1],
        "num_classes": 10,
        "stem_stride": 2,
        "output_stride": 16,
        "engine_sources_sha256": "new",
        "rows": [],
    }
    shapes = [(16, 0.35, 128), (20, 0.4, 192), (24, 0.35, 384), (28, 0.4, 256), (32, 0.35, 192)]
    for i, (r, a, f) in enumerate(shapes + [(40, 0.75, 128)]):
        c = counts(Shape(r, a, f, 1, 10, 2, 16, input_hw=(28, 28)))
        fresh = i < len(shapes)
        arena = c.peak_live + c.max_scratch + 40 if fresh else c.peak_live + 40
        doc["rows"].append(
            {"resolution": r, "alpha": a, "head": f, "arena_engine": arena}
            | ({"counted_on": "new"} if fresh else {})
        )
    fit = fit_rows(doc)["arena_engine"]
    assert fit.rows == len(shapes) and fit.max_rel_error < 1e-6
