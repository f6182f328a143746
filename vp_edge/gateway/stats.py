"""Gateway statistics: per-board latency, misses, errors, drops by reason, bytes on the wire.

Kept apart from ``gateway.py`` so the event loop stays small; everything here is plain data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from firmware_bridge import Status

if TYPE_CHECKING:
    from vp_edge.deployment import BoardSpec


def sig3(v: float) -> float:
    """``v`` to three significant figures (84.354 -> 84.4, 902.251 -> 902, 0.04512 -> 0.0451):
    a timer's jitter makes more digits noise."""
    if v == 0 or not math.isfinite(v):
        return v
    return round(v, max(0, 2 - math.floor(math.log10(abs(v)))))


def percentiles_ms(values: list[float]) -> dict[str, float | None]:
    """p50/p99/max of seconds, in milliseconds to three significant figures (None when
    empty)."""
    if not values:
        return {"p50": None, "p99": None, "max": None}
    a = np.asarray(values, dtype=np.float64) * 1000
    return {
        "p50": sig3(float(np.percentile(a, 50))),
        "p99": sig3(float(np.percentile(a, 99))),
        "max": sig3(float(a.max())),
    }


@dataclass
class BoardStats:
    """Counters of one board as the gateway sees it."""

    spec: BoardSpec
    latencies: list[float] = field(default_factory=list)
    compute_us: list[int] = field(default_factory=list)
    misses: int = 0
    excused: int = 0  # misses while the gateway itself was behind (not held against the board)
    errors: dict[str, int] = field(default_factory=dict)
    heartbeats: int = 0
    #: heartbeats that arrived while the board was down: it is alive but not answering us
    heartbeats_down: int = 0
    rejoins: int = 0
    ever_up: bool = False
    bytes_sent: int = 0
    bytes_received: int = 0
    #: the gateway's own drops of this board's frames (late, duplicate, bad_result, link_down..)
    drops: dict[str, int] = field(default_factory=dict)

    def count_error(self, status: int) -> None:
        name = Status(status).name.lower()
        self.errors[name] = self.errors.get(name, 0) + 1


def down_reason(b: Any) -> str | None:
    """Why a board takes no requests (``b`` is a ``gateway.Board``), or None when it is up."""
    if b.refused:
        return b.refused
    if b.up:
        return None
    s: BoardStats = b.stats
    if s.heartbeats_down >= 3:
        return (
            "heartbeats arrive but PROBEs get no HELLO: the board drops the gateway's "
            "frames (another key: check the deployment's key and the board's id)"
        )
    if b.down_why:
        return b.down_why
    if s.ever_up:
        return f"stopped answering ({s.misses} request(s) missed)"
    return f"no answer on {b.spec.link} (board not running, or another link, id or key)"


def board_drops(b: Any) -> dict[str, int]:
    """Every drop tied to board ``b``: frames its link's authentication refused and those the
    gateway dropped (late, duplicate, link_down...)."""
    drops = {k: v for k, v in dict(b.adapter.auth.stats).items() if k != "accepted" and v}
    for k, v in dict(b.stats.drops).items():
        drops[k] = drops.get(k, 0) + v
    return drops


def board_report(b: Any) -> dict:
    """One board's row (``b`` is a ``gateway.Board``)."""
    s: BoardStats = b.stats
    return {
        "id": b.spec.id, "kind": b.spec.kind, "variant": b.spec.variant, "link": b.spec.link,
        "profile": b.spec.profile, "up": b.up, "refused": b.refused,
        "reason": down_reason(b),
        "results": len(s.latencies), "misses": s.misses, "misses_excused": s.excused,
        "errors": dict(s.errors),
        "latency_ms": percentiles_ms(s.latencies),
        "compute_us_p50": float(np.median(s.compute_us)) if s.compute_us else None,
        "heartbeats": s.heartbeats, "rejoins": s.rejoins,
        "frames_accepted": b.adapter.auth.stats["accepted"], "drops": board_drops(b),
        "bytes_sent": s.bytes_sent, "bytes_received": s.bytes_received,
    }  # fmt: skip


def gateway_report(gw: Any, answers: list) -> dict:
    """The whole run: answers summary, accuracy where labels are known, boards, drops."""
    n = len(answers)
    ok = [a for a in answers if a.error is None]
    labelled = [a for a in answers if a.label is not None]
    correct = sum(a.winner == a.label for a in labelled)
    boards = {name: board_report(b) for name, b in gw.boards.items()}
    sent = sum(r["bytes_sent"] for r in boards.values())
    recv = sum(r["bytes_received"] for r in boards.values())
    return {
        "deployment": gw.dep.to_dict(),
        "requests": n, "answered": len(ok), "errors": n - len(ok),
        "degraded": sum(a.degraded for a in answers),
        "accuracy": correct / len(labelled) if labelled else None,
        "labelled": len(labelled),
        "latency_ms": percentiles_ms([a.latency_s for a in answers]),
        "bytes_per_inference": {"sent": sent / n if n else None,
                                "received": recv / n if n else None},
        "boards": boards,
        "gateway_drops": dict(gw.counts),
    }  # fmt: skip


def progress_label(gw: Any) -> str:
    """Short live status for the progress line: boards up, degraded answers, p50 latency."""
    up = sum(b.up for b in gw.boards.values())
    deg = sum(a.degraded for a in gw.answers)
    lat = percentiles_ms([a.latency_s for a in gw.answers[-200:]])["p50"]
    lat_s = f"{lat:.0f}ms" if lat is not None else "-"
    return f"gateway {up}/{len(gw.boards)} up, {deg} degraded, p50 {lat_s}"


def gateway_table(report: dict) -> str:
    """The report for people."""
    lat = report["latency_ms"]
    acc = report["accuracy"]
    lines = [
        f"requests {report['requests']}, answered {report['answered']}, errors "
        f"{report['errors']}, degraded {report['degraded']}"
        + (f", accuracy {100 * acc:.2f}%" if acc is not None else ""),
        f"latency p50 {_f(lat['p50'])} ms, p99 {_f(lat['p99'])} ms, max {_f(lat['max'])} ms; "
        f"bytes per inference sent {_f(report['bytes_per_inference']['sent'])}, received "
        f"{_f(report['bytes_per_inference']['received'])}",
        f"{'board':<10} {'kind':<6} {'variant':<8} {'up':<3} {'results':>7} {'misses':>6} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'sent B':>9} {'recv B':>8}  drops/errors",
    ]
    for name, r in report["boards"].items():
        bad = {**r["drops"], **r["errors"]}
        lines.append(
            f"{name:<10} {r['kind']:<6} {r['variant']:<8} {'yes' if r['up'] else 'no':<3} "
            f"{r['results']:>7} {r['misses']:>6} {_f(r['latency_ms']['p50']):>8} "
            f"{_f(r['latency_ms']['p99']):>8} {r['bytes_sent']:>9} {r['bytes_received']:>8}  "
            + (", ".join(f"{k} {v}" for k, v in bad.items()) or "-")
            + (f"  REFUSED: {r['refused']}" if r["refused"] else "")
            + (f"  DOWN: {r['reason']}" if r.get("reason") and not r["refused"] else "")
        )
    drops = {k: v for k, v in report["gateway_drops"].items() if v}
    lines.append("gateway drops: " + (", ".join(f"{k} {v}" for k, v in drops.items()) or "none"))
    return "\n".join(lines)


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:,.1f}"
