"""``vp-edge family show --costs`` before training equals what convert and pack give after it."""

from __future__ import annotations

import json
import time

import pytest
from tiny_helpers import vp_edge_cli

pytestmark = [pytest.mark.tf, pytest.mark.slow]


def test_costs_before_training_equal_convert_and_pack(tiny_run, tmp_path):
    t0 = time.monotonic()
    r = vp_edge_cli("family", "show", str(tiny_run / "family.json"), "--costs", "--json")
    took = time.monotonic() - t0
    costs = {c["name"]: c for c in json.loads(r.stdout)["costs"]}
    assert set(costs) == {"t16", "t24"}
    for name, c in costs.items():
        card = json.loads((tiny_run / "models" / f"{name}.json").read_text())
        for key in ("params", "macs", "tflite_bytes", "arena_bytes"):
            assert c[key] == card[key], (name, key, c[key], card[key])
        out = tmp_path / f"{name}.vpw"
        p = vp_edge_cli(
            "pack",
            str(tiny_run / "models" / f"{name}.tflite"),
            "-o",
            str(out),
            "--target",
            "cortex-m4",
            "--json",
        )
        packed = json.loads(p.stdout)
        assert c["vpw_bytes"] == packed["total_size"] == out.stat().st_size, name
        assert c["vpw_arena_bytes"] == packed["arena_size"], name
        assert c["fits"]["raspberry-pi-4"] == "tflite"
        assert c["fits"]["stm32f405"] in ("tflite + vpw", "vpw") or c["fits"][
            "stm32f405"
        ].startswith("no: ")
    print(
        f"\n[costs] tiny family, 2 variants: {took:.1f} s; "
        + "; ".join(
            f"{n}: {c['params']:,} params, {c['macs']:,} MACs, tflite "
            f"{c['tflite_bytes']:,} B, arena {c['arena_bytes']:,} B, vpw "
            f"{c['vpw_bytes']:,} B"
            for n, c in costs.items()
        )
    )
