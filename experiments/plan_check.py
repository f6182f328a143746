"""Check a plan against measurement: every planned variant made real and measured on its board.

For each board of a plan (``vp-edge plan FLEET --out DIR``): the variant is built untrained,
converted and packed as its board stores it; the artefact goes through ``vp-edge flash``'s local
pre-check for that board (vp_edge.flashing.check_artifact: kind, flash, arena, firmware fit,
golden self-test); then the predicted figures are compared with the measured ones: model bytes,
arena, and compute (instructions of one inference in QEMU on the board's own firmware target for
microcontrollers; the host's median milliseconds of the board's runtime for Linux and PYNQ).

    python -m experiments.plan_check DIR [--json FILE]
    python -m experiments.plan_check DIR --live RUN [--images N] [--rate HZ] [--measured FILE]

``--live RUN`` serves RUN (the planned family, trained or not: timing depends on shapes only) on
emulated boards of the plan's fleet through the gateway (``experiments.plan_live``: each reply
held back to the board's measured compute) and compares the predicted end to end with each
board's live p50 (deadline lifted to 2 s, so late replies are timed too). The prediction of a
board includes its link's measured per-request overhead, UDP or serial (``python -m
experiments.plan_overhead``, vp_edge/plan/overhead.py).
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
    from experiments.plan_live import measured_compute
    from vp_edge.plan.candidates import convert_candidate

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
    out.update(measured_compute(a.tflite, profile))  # experiments.plan_live
    got = out["compute_ms"]
    out["compute_error"] = (row["compute_ms"] - got) / got if got else None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("plan", type=Path, help="the folder 'vp-edge plan --out' wrote")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    ap.add_argument("--live", type=Path, metavar="RUN", help="also serve RUN live (see above)")
    ap.add_argument("--images", type=int, default=100, help="live requests (default 100)")
    ap.add_argument("--rate", type=float, default=5.0, help="live requests a second (5)")
    ap.add_argument(
        "--measured", type=Path, help="rows of an earlier --json: the live check only, on them"
    )
    args = ap.parse_args(argv)
    if args.measured and not args.live:
        ap.error("--measured needs --live RUN (it skips the static checks only)")
    if args.measured:
        rows = json.loads(args.measured.read_text())
        known = {r["board"]: r for r in rows}
        return 0 if live_check(args.plan, args.live, args.images, args.rate, known) else 1
    dep = tomllib.loads((args.plan / "deploy.toml").read_text())
    predicted = json.loads((args.plan / "plan.json").read_text())["boards"]
    rows, done = [], {}
    for board, row in zip(dep["boards"], predicted, strict=True):
        key = (board["variant"], board["profile"], board["kind"])  # boards of one class: once
        if key not in done:
            done[key] = check_board(board, row, args.plan / "family.json")
        r = {**done[key], "board": board["name"]}
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
    ok = all(r["flash_check"] == "ok" for r in rows)
    if args.live:
        known = {r["board"]: r for r in rows}
        ok = live_check(args.plan, args.live, args.images, args.rate, known) and ok
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if ok else 1


def live_check(plan: Path, run: Path, images: int, rate: float, known: dict[str, dict]) -> bool:
    """Predicted end to end (plan.json) against each board's live p50 through the gateway;
    True when every board is within 20 %. ``known``: the static check's rows (their measured
    compute holds the replies back)."""
    from experiments.plan_live import board_holds, emulated_deployment, p50_ms, run_live

    predicted = {b["board"]: b for b in json.loads((plan / "plan.json").read_text())["boards"]}
    with tempfile.TemporaryDirectory(prefix="vp-plan-live-") as tmp:
        dep, profiles = emulated_deployment(plan / "deploy.toml", run, Path(tmp), deadline_ms=2000)
        holds = board_holds(dep, profiles, known)
        res = run_live(dep, holds, images, rate)
    print(
        f"{'board':10} {'variant':22} {'kind':6} {'link':>6} {'compute':>8} {'per req':>7} "
        f"{'total':>7} | {'measured compute':>16} {'emulator':>8} {'live p50':>8} {'error':>7}"
    )
    rows = []
    for b in dep.boards:
        p, h = predicted[b.name], holds[b.name]
        live = p50_ms(res.board_latency_s.get(b.name, []))
        err = (p["total_ms"] - live) / live if live else None
        replies = len(res.board_latency_s.get(b.name, []))
        rows.append(
            {"board": b.name, "predicted": p, "measured": h, "live_p50_ms": live, "error": err,
             "replies": replies}
        )  # fmt: skip
        print(
            f"{b.name:10} {b.variant:22} {b.kind:6} {p['link_ms']:6.1f} {p['compute_ms']:8.2f} "
            f"{p.get('overhead_ms', 0.0):7.2f} {p['total_ms']:7.1f} | "
            f"{h['compute_ms']:13.2f} ms {h['emulator_ms']:5.2f} ms "
            f"{live or float('nan'):8.2f} " + (f"{err:+7.1%}" if err is not None else "")
        )
    print(f"{images} requests at {rate:g}/s, one in flight; times in ms")
    for r in rows:
        known[r["board"]]["live"] = r
    return all(r["error"] is not None and abs(r["error"]) <= 0.2 for r in rows)


if __name__ == "__main__":
    sys.exit(main())
