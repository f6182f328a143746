"""Per-request overhead of a board on a network link: what a reply carries beyond compute and wire.

A reply from a board over UDP reaches the gateway later than its compute plus the link model's
bytes and datagram latency (``vp_edge.plan.link``): the board daemon works on each request
(decode, check the tag, reassemble, top-k, encode, sign, send: Python on the board's CPU), and so
does the gateway (send, its reader thread, the event loop, the vote). Both are measured, never
guessed, by ``python -m experiments.plan_overhead`` into costs.json's ``udp_overhead``:

- ``board_ms``: the board daemon's own handling of one request outside its runtime
  (``boards.server.BoardServer`` with a runtime that returns at once), median on the
  calibration host;
- ``rest_ms`` per board kind: live p50 - (compute + link, as the planner's models define them)
  - ``board_ms``, served through the real gateway by emulated boards on the calibration host,
  as ``base + per_board x (boards - 1)`` over the fleet's network boards: measured on fleets
  of two sizes, since the gateway sends every request to every board and the replies of its
  network boards come back together into one process (a serial board's comes tens of
  milliseconds later and is not counted).

On a real board the first part runs on the board's CPU, so the planner scales it by the
profile's ``HOST_FACTORS`` factor, as it scales the compute term (the same Python daemon on a
Cortex-A72 or a Cortex-A9); the rest runs on the gateway's host and is not scaled.

Serial boards (a UART, a pty) have their own term, costs.json's ``serial_overhead``: live p50 -
(compute + the line's bytes at the baud rate) through the real gateway on emulated
microcontroller boards, as ``base + per_board x (boards - 1)`` over the fleet's serial boards,
and ``spread_ms``, how much later than its p50 a serial board's 95th-percentile reply came. The
planner adds the term to the total and keeps the spread free before the gateway's cut-off, so
a board planned at the limit still answers nineteen requests in twenty in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class UdpOverhead:
    """The measured overhead of one request to a board over UDP, split by where it runs."""

    board_ms: float  # the board daemon's own work per request, at the calibration host's speed
    #: board kind -> (base, per_board): the rest (loopback, gateway) in a fleet of n network
    #: boards is base + per_board x (n - 1); not scaled
    rest_ms: dict[str, tuple[float, float]]

    def ms(self, kind: str, factor: float, boards: int) -> float:
        """Milliseconds a request to a ``kind`` board whose CPU is ``factor`` times slower than
        the calibration host adds to compute + link in a fleet of ``boards``; a kind not
        measured takes the largest measured rest."""
        rests = {k: base + per * max(0, boards - 1) for k, (base, per) in self.rest_ms.items()}
        return self.board_ms * factor + rests.get(kind, max(rests.values(), default=0.0))

    def hold_ms(self, factor: float) -> float:
        """What an emulated board (the daemon at the host's speed) lacks of a real one's
        overhead: its own part at ``factor`` less what the host already spends."""
        return self.board_ms * max(0.0, factor - 1.0)


@dataclass(frozen=True)
class SerialOverhead:
    """The measured overhead of one request to a board on a serial line (not scaled: the
    emulation's daemon stands in for the firmware's handling, the rest is the gateway's)."""

    base_ms: float
    per_board_ms: float  # each further serial board in the fleet (their replies come together)
    spread_ms: float  # p95 - p50 of a serial board's reply, the largest measured

    def ms(self, boards: int) -> float:
        """Milliseconds a request to a serial board adds to compute + line in a fleet of
        ``boards`` serial boards."""
        return self.base_ms + self.per_board_ms * max(0, boards - 1)


def parse_serial(doc: dict | None) -> SerialOverhead | None:
    """costs.json's ``serial_overhead`` entry, or None where it was never measured."""
    if not doc:
        return None
    return SerialOverhead(
        float(doc["base_ms"]), float(doc["per_board_ms"]), float(doc["spread_ms"])
    )


def parse_overhead(doc: dict | None) -> UdpOverhead | None:
    """costs.json's ``udp_overhead`` entry, or None where it was never measured."""
    if not doc:
        return None
    rest = {str(k): (float(v["base"]), float(v["per_board"])) for k, v in doc["rest_ms"].items()}
    return UdpOverhead(float(doc["board_ms"]), rest)


def fit_rest(points: dict[str, list[tuple[int, float]]]) -> dict[str, tuple[float, float]]:
    """kind -> (base, per_board) of ``rest = base[kind] + per_board x (boards - 1)``: least
    squares over (boards, rest ms) of every kind, one ``per_board`` for all (the gateway's
    share of another board does not depend on the kind of the one answering), at two fleet
    sizes or more."""
    kinds = sorted(points)
    if len({n for pts in points.values() for n, _ in pts}) < 2:
        raise ValueError("the rest needs measurements at two fleet sizes or more")
    rows, y = [], []
    for i, kind in enumerate(kinds):
        for n, rest in points[kind]:
            rows.append([float(j == i) for j in range(len(kinds))] + [float(n - 1)])
            y.append(rest)
    coef = np.linalg.lstsq(np.array(rows), np.array(y), rcond=None)[0]
    return {kind: (float(coef[i]), float(coef[-1])) for i, kind in enumerate(kinds)}
