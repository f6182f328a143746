"""One row per strategy, measured offline: ``strategy_figures(run, split)``.

Accuracy is the int8 parts' (LiteRT reference kernels, the plan's own combination) on the
split. Bytes per inference are the payloads the plan sends and receives (requests plus
replies, summed over every call), computed from the actual int8 tensor sizes (a "scores"
reply: k (class, score) pairs, 2k bytes): frame headers, chunking and retries are not
included; live figures come from the frames the gateway counts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from converters.rundir import RunDir
from vp_edge.strategies.base import (
    Outcome,
    Strategy,
    Traffic,
    load_strategy,
    part_runner,
    run_offline,
)


def _accuracy(outcomes: list[Outcome], y: np.ndarray) -> dict:
    right = [o.label is not None and o.label == int(t) for o, t in zip(outcomes, y, strict=True)]
    answered = [o.label is not None for o in outcomes]
    return {
        "accuracy": float(np.mean(right)),
        "answer_rate": float(np.mean(answered)),
        "status": {s: sum(o.status == s for o in outcomes) for s in ("ok", "degraded", "failed")},
    }


def _card(run: Path, name: str) -> dict:
    path = RunDir(run).card(name)
    return json.loads(path.read_text()) if path.exists() else {}


def device_costs(strategy: Strategy) -> dict:
    """params, MACs and arena of each part (one device each), from the model cards."""
    cards = {p.name: _card(strategy.run, p.name) for p in strategy.parts}
    out = {
        key: {n: c.get(key) for n, c in cards.items()} for key in ("params", "macs", "arena_bytes")
    }
    out.update(
        {
            f"max_{key}": max((v or 0) for v in out[key].values())
            for key in ("params", "macs", "arena_bytes")
        }
    )
    gw = strategy.doc.get("gateway", {}).get("merge")
    if gw:
        c = _card(strategy.run, Path(gw["artefact"]).stem)
        out["gateway_merge"] = {k: c.get(k) for k in ("params", "macs", "arena_bytes")}
    return out


def strategy_figures(
    run: Path, split: str = "test", limit: int | None = None, drops: bool = True
) -> dict:
    """int8 accuracy, devices, per-device costs, tensor bytes per inference, and accuracy with
    each single part dropped, on ``split`` (first ``limit`` images) of the run's data."""
    from vp_edge.convert import load_run_data
    from vp_edge.train import load_run_family

    strategy = load_strategy(run)
    data = getattr(load_run_data(run, load_run_family(run)), split).subset(limit)
    runners = {p.name: part_runner(p) for p in strategy.parts}
    traffic: list[Traffic] = []
    outcomes = run_offline(strategy, data.x, traffic=traffic, runners=runners)
    row = {
        "strategy": strategy.name,
        "run": str(run),
        "split": split,
        "images": len(data.y),
        "options": strategy.doc.get("options", {}),
        **_accuracy(outcomes, data.y),
        "devices": len(strategy.parts),
        **device_costs(strategy),
        "tensor_bytes_per_inference": {
            "sent": float(np.mean([t.sent for t in traffic])),
            "received": float(np.mean([t.received for t in traffic])),
            "total": float(np.mean([t.sent + t.received for t in traffic])),
            "note": "payload bytes: int8 tensors of every call and reply, a scores "
            "reply as k (class, score) pairs; live figures count frames",
        },
        "calls_per_inference": float(np.mean([t.calls for t in traffic])),
    }
    if strategy.name == "disco":
        row["disco_exchange"] = disco_exchange(strategy.doc)
    if drops:
        row["drop_one"] = {
            p.name: _accuracy(
                run_offline(strategy, data.x, drop=(p.name,), runners=runners), data.y
            )
            for p in strategy.parts
        }
    return row


def disco_exchange(doc: dict) -> dict:
    """DISCO's node-to-node activation bytes per inference (every stage's reply but the last,
    both nodes), per layer boundary; through the gateway each crosses two links."""
    per_stage = [
        sum(p["stage_replies"][s]["size"] for p in doc["parts"])
        for s in range(len(doc["parts"][0]["stage_replies"]) - 1)
    ]
    return {"per_layer": per_stage, "total": sum(per_stage), "keep": doc.get("keep")}


def figures_table(rows: list[dict]) -> str:
    """A plain-text table of ``strategy_figures`` rows."""
    head = (
        f"{'strategy':10} {'options':22} {'acc':>6} {'dev':>3} {'max params':>10} "
        f"{'max MACs':>11} {'max arena':>9} {'B/inf':>8} {'worst drop-1':>12}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        opts = ",".join(
            f"{k}={v}"
            for k, v in r["options"].items()
            if k in ("cuts", "groups", "branches", "keep")
        )
        worst = min((d["accuracy"] for d in r.get("drop_one", {}).values()), default=float("nan"))
        lines.append(
            f"{r['strategy']:10} {opts:22} {100 * r['accuracy']:>5.1f}% {r['devices']:>3} "
            f"{r['max_params']:>10,} {r['max_macs']:>11,} {r['max_arena_bytes']:>9,} "
            f"{r['tensor_bytes_per_inference']['total']:>8.0f} {100 * worst:>11.1f}%"
        )
    return "\n".join(lines)
