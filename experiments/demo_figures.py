"""The demo's figures in docs/results.md, written from a ``make demo`` summary, never typed.

``docs/results.md`` holds the block between the ``demo-figures`` markers;
``docs/demo-summary.json`` holds the figures it was written from (the summary's evaluation,
claims, budget and timings).

    python -m experiments.demo_figures runs/demo/summary.json          # say whether they drift
    python -m experiments.demo_figures runs/demo/summary.json --write  # adopt them (docs + JSON)

``make demo`` runs the first form after the demo, so a change that moves the figures is noticed;
a test checks that the committed block is what the committed JSON renders.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "results.md"
SUMMARY = ROOT / "docs" / "demo-summary.json"
BEGIN, END = "<!-- demo-figures:begin -->", "<!-- demo-figures:end -->"
KEPT = ("budget", "machine", "evaluation", "claims", "timings")


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def _paired(p: dict) -> str:
    lo, hi = p["ci95_points"]
    return (
        f"{p['difference_points']:+.2f} points (95 % interval {lo:+.2f} to {hi:+.2f}, "
        f"McNemar p = {p['mcnemar_p']:.2g})"
    )


def render(s: dict) -> str:
    """The markdown block for one summary (only figures the training decides)."""
    e, c, b = s["evaluation"], s["claims"], s["budget"]
    rows = [
        "| model | r | α | F | params | MACs | params ÷ | MACs ÷ | float | int8 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for v in e["variants"]:
        rows.append(
            f"| {v['name']} | {v['resolution']} | {v['alpha']:g} | {v['head']} | "
            f"{v['params']:,} | {v['macs']:,} | {v['params_ratio']:.2f}× | "
            f"{v['macs_ratio']:.2f}× | {_pct(v['float_accuracy'])} | "
            f"{_pct(v['int8_accuracy'])} |"
        )
    base = e["baseline"]
    rows.append(
        f"| baseline (MobileNetV2 α=1.0) | | 1.0 | 1280 | {base['params']:,} | "
        f"{base['macs']:,} | 1× | 1× | {_pct(base['float_accuracy'])} | "
        f"{_pct(base['int8_accuracy'])} |"
    )
    ref = e["ensemble"]["reference"]
    best = e["paired"]["ensemble_vs_best_single"]
    alive = (
        "; ".join(
            f"{m['m']} of {len(e['variants'])}: {_pct(m['mean'])} / {_pct(m['worst'])}"
            for m in e["boards_alive"]
        )
        if isinstance(e["boards_alive"], list)
        else ""
    )
    lines = [
        f"Budget: family `{b['family']}`, {b['epochs']} epochs on {b['train_limit']:,} training "
        f"images, batch {b['batch_size']}, ensemble term {b['ensemble_weight']:g}; "
        f"{e['test_images']:,} test images; int8 on LiteRT's reference kernels.",
        "",
        *rows,
        "",
        f"- Ensemble (reference rule): {_pct(ref['2'])} at k=2 "
        f"({', '.join(f'k={k} {_pct(ref[k])}' for k in sorted(ref))}).",
        f"- Ensemble against its best member ({best['best_single']}): {_paired(best)}.",
        f"- Ensemble against the baseline ({_pct(c['baseline_top1'])}): "
        f"{_paired(e['paired']['ensemble_vs_baseline'])}.",
        f"- Largest float → int8 drop: {c['max_int8_drop_points']:.2f} points; every member "
        f"within the paper's bounds: {c['within_paper_bounds']} (at least "
        f"{c['fewest_params_ratio']:.2f}× fewer parameters, "
        f"{c['fewest_macs_ratio']:.2f}× fewer MACs).",
        f"- C engine against LiteRT's reference kernels: {c['c_engine_differing']} of "
        f"{c['c_engine_values_compared']:,} int8 values differ.",
    ]
    if alive:
        lines.append(f"- m boards alive (mean / worst subset): {alive}.")
    return "\n".join(lines)


def _block(doc: str) -> str:
    try:
        return doc.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")
    except IndexError:
        raise SystemExit(f"{DOC}: no {BEGIN} ... {END} block") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("summary", type=Path, help="a demo's summary.json")
    ap.add_argument("--write", action="store_true", help="adopt its figures in docs/")
    args = ap.parse_args(argv)
    s = json.loads(args.summary.read_text())
    new, doc = render(s), DOC.read_text()
    if args.write:
        _block(doc)  # the markers are there
        head, rest = doc.split(BEGIN, 1)
        DOC.write_text(f"{head}{BEGIN}\n{new}\n{END}{rest.split(END, 1)[1]}")
        SUMMARY.write_text(json.dumps({k: s[k] for k in KEPT}, indent=1) + "\n")
        print(f"wrote the figures of {args.summary} into {DOC} and {SUMMARY}")
        return 0
    if new == _block(doc):
        print(f"demo figures: equal to {DOC.relative_to(ROOT)}")
        return 0
    old = _block(doc).splitlines()
    print(
        f"demo figures: they differ from {DOC.relative_to(ROOT)} (same seed and data give the "
        "same figures on this kind of machine; a change to training moved them):"
    )
    for a, b in zip(old, new.splitlines(), strict=False):
        if a != b:
            print(f"  docs: {a}\n  now:  {b}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
