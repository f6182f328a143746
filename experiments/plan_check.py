"""Check a plan against measurement: every planned variant made real and measured on its board.

For each board of a plan (``vp-edge plan FLEET --out DIR``): the variant is built untrained,
converted and packed as its board stores it; the artefact goes through ``vp-edge flash``'s local
pre-check for that board (vp_edge.flashing.check_artifact: kind, flash, arena, firmware fit,
golden self-test); then the predicted figures are compared with the measured ones: model bytes,
arena, and compute (instructions of one inference in QEMU on the board's own firmware target for
microcontrollers; the host's median milliseconds of the board's runtime for Linux and PYNQ).

    python -m experiments.plan_check DIR [--json FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import tomllib
from pathlib import Path

from vp_edge.family import load_family

#: firmware target -> the bench's QEMU core name that boots it
QEMU_CORE = {
    "mps2-an386": "cortex-m4",
    "mps2-an500": "cortex-m7",
    "mps2-an505": "cortex-m33",
    "stm32f405": "stm32f405",
}


def _flash_check(art: bytes, board: dict, arena: int, tmp: Path) -> str:
    """'ok', or the pre-check's refusal."""
    from vp_edge.deployment import BoardSpec
    from vp_edge.errors import VpEdgeError
    from vp_edge.flashing import FlashTarget, check_artifact

    spec = BoardSpec(
        1, board["name"], board["kind"], board["link"], board["variant"], board["profile"]
    )
    path = tmp / (f"{board['variant']}.vpw" if art[:4] == b"VPW1" else f"{board['variant']}.tflite")
    path.write_bytes(art)
    path.with_suffix(".json").write_text(
        json.dumps({"tflite_sha256": hashlib.sha256(art).hexdigest(), "arena_bytes": arena})
    )
    try:
        check_artifact(art, str(path), FlashTarget("", 1, None, None, spec=spec))
    except VpEdgeError as e:
        return f"refused: {e}"
    return "ok"


def check_board(board: dict, row: dict, family_path: Path) -> dict:
    import numpy as np

    from boards.profiles import get_profile
    from converters.card import measure_arena
    from converters.vpw import tflite_to_vpw
    from experiments.bench.mcu import tflite_core_counts
    from vp_edge.benchmark import benchmark
    from vp_edge.plan.candidates import convert_candidate
    from vp_edge.plan.costs import HOST_FACTORS

    fam = load_family(family_path)
    v = fam.variant(board["variant"])
    a = convert_candidate(fam, v)
    profile = get_profile(board["profile"])
    x = np.random.default_rng(0).integers(-128, 128, int(np.prod(fam.input_shape)), np.int8)
    out = {"board": board["name"], "variant": v.name, "predicted": row}
    with tempfile.TemporaryDirectory(prefix="vp-plan-check-") as tmp:
        t = Path(tmp)
        if board["kind"] in ("qemu", "pynq"):
            target = "cortex-m4" if board["kind"] == "qemu" else "generic"
            art, arena = tflite_to_vpw(a.tflite, golden_input=x, target=target), a.arena_engine
        else:
            (t / "m.tflite").write_bytes(a.tflite)
            art = a.tflite
            arena = measure_arena(t / "m.tflite") if board["kind"] == "mcu" else a.arena_engine
        out["flash_check"] = _flash_check(art, board, arena, t)
    out["model_bytes"], out["arena"] = len(art), arena
    if profile.firmware_target:
        core = QEMU_CORE[profile.firmware_target]
        c = tflite_core_counts(a.tflite, cores=(core,))
        n = c.get("cores", {}).get(core, {}).get("value")
        out["instructions"] = n
        out["compute_ms"] = n / profile.clock_hz * 1e3 if n else None
    else:
        quantity, factor = HOST_FACTORS[profile.name]
        rt = {"xnnpack_ms": "xnnpack", "engine_ms": "engine"}[quantity]
        b = benchmark("tflite", a.tflite, runs=50, runtimes=(rt,), qemu=False)
        out["host_ms"] = b["runtimes"][rt].get("median_ms")
        out["compute_ms"] = out["host_ms"] * factor if out["host_ms"] else None
    got = out["compute_ms"]
    out["compute_error"] = (row["compute_ms"] - got) / got if got else None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("plan", type=Path, help="the folder 'vp-edge plan --out' wrote")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args(argv)
    dep = tomllib.loads((args.plan / "deploy.toml").read_text())
    predicted = json.loads((args.plan / "plan.json").read_text())["boards"]
    rows = []
    for board, row in zip(dep["boards"], predicted, strict=True):
        r = check_board(board, row, args.plan / "family.json")
        rows.append(r)
        err = r["compute_error"]
        print(
            f"{r['board']:10} {r['variant']:22} flash check: {r['flash_check'][:60]:12} "
            f"bytes {row['model_bytes']:>9,} predicted / {r['model_bytes']:>9,} measured  "
            f"arena {row['arena']:>7,} / {r['arena']:>7,}  compute {row['compute_ms']:7.2f} / "
            f"{r['compute_ms'] or float('nan'):7.2f} ms"
            + (f" ({err:+.1%})" if err is not None else ""),
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    ok = all(r["flash_check"] == "ok" for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
