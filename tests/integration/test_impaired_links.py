"""The gateway over impaired UDP links (seeded user-space proxy, tests/impair.py): loss 20 %,
duplication 10 %, reordering 25 %, delay 20 ± 10 ms and 2 % corruption in both directions.

Every request is answered exactly once, every answer equals the offline vote of the boards that
answered, and the 99th percentile latency stays within deadline + 50 ms. The suite runs 60
requests (p99 within deadline + 250 ms, robust to a loaded machine);
``VP_EDGE_IMPAIR_REQUESTS=300`` runs the full figure and holds p99 to deadline + 50 ms.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "boards"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from board_helpers import FakeBoards, make_fake_run, write_deployment
from impair import ImpairerProcess, Impairment
from test_gateway_faults import MARGIN, _ports, expected, images

from vp_edge.gateway.core import Gateway, run_inputs

NETWORK = Impairment(
    loss=0.20, duplicate=0.10, reorder=0.25, delay_s=0.020, jitter_s=0.010, corrupt=0.02
)
NAMES = ("pi1", "pi2", "pi3", "pi4")
# A request reaches a board and its RESULT comes back with probability 0.8 x 0.8 = 0.64, so the
# default fail_after=2 would mark boards down after two unlucky requests in a row; a lossy
# network needs a board to miss more before the gateway stops asking it.
FAIL_AFTER = 20
# Requests in flight at once (VP_EDGE_IMPAIR_INFLIGHT). A frame that a later frame of the same
# sender overtook is still accepted, once, while within the receiver's 64-counter replay window
# (docs/protocol.md §4), so reordering does not add to the loss with several requests in flight.
INFLIGHT = int(os.environ.get("VP_EDGE_IMPAIR_INFLIGHT", "1"))


def _boards(ports: list[int]) -> list[dict]:
    return [
        {
            "id": i + 1,
            "name": n,
            "kind": "linux",
            "link": f"udp://127.0.0.1:{p}",
            "variant": ("t16", "t24")[i % 2],
        }
        for i, (n, p) in enumerate(zip(NAMES, ports))
    ]


def test_impaired_links_every_request_answered_once_and_equal_offline(tmp_path, capsys):
    n = int(os.environ.get("VP_EDGE_IMPAIR_REQUESTS", "60"))
    # The figure run (300 requests) holds p99 to deadline + 50 ms. In the suite, 60 requests
    # make p99 the slowest answer, which a loaded machine's stall can push past 50 ms: there the
    # bound only catches requests left waiting well past the deadline.
    margin = MARGIN if n >= 300 else 0.25
    run = make_fake_run(tmp_path)
    real = _ports(len(NAMES))
    (tmp_path / "b").mkdir()
    boards_dep = write_deployment(tmp_path / "b", run, _boards(real))
    proxies = ImpairerProcess([("127.0.0.1", p) for p in real], NETWORK, list(range(len(real))))
    (tmp_path / "g").mkdir()
    gw_dep = write_deployment(tmp_path / "g", run, _boards(proxies.ports))
    fake = FakeBoards(boards_dep)
    for name in NAMES:
        fake.start(name)
    x = images(n, 11)

    async def main() -> tuple[Gateway, list]:
        gw = Gateway(gw_dep, fail_after=FAIL_AFTER)
        await gw.start(hello_timeout=5.0)
        try:
            return gw, await run_inputs(gw, x, None, INFLIGHT)
        finally:
            await gw.close()

    counts: list[dict[str, int]] = []
    try:
        gw, answers = asyncio.run(main())
    finally:
        fake.stop()
        counts = proxies.close()
    assert sorted(a.index for a in answers) == list(range(n)) and len(gw.answers) == n
    for a in answers:  # one answer each, equal to the offline vote of the boards that answered
        assert a.winner == expected(gw, x, a) and (a.error is None) == bool(a.answered)
        assert set(a.answered) | set(a.missing) == set(gw.boards)
    lat = np.array([a.latency_s for a in answers]) * 1000
    p99 = float(np.percentile(lat, 99))
    done = {k: sum(c[k] for c in counts) for k in counts[0]}
    errors = sum(a.error is not None for a in answers)
    votes = sum(len(a.answered) for a in answers)  # board RESULTs that made it into a vote
    replays = sum(b.adapter.auth.stats["replay"] for b in gw.boards.values())
    with capsys.disabled():
        print(
            f"\n[impaired links] {n} requests ({INFLIGHT} in flight), {len(answers)} answered "
            f"once each ({errors} explicit 'no board answered' errors), all equal to the "
            f"offline vote; latency p50 {np.percentile(lat, 50):.1f} ms, p99 {p99:.1f} ms, "
            f"max {lat.max():.1f} ms (deadline {gw_dep.deadline_s * 1000:.0f} ms + 50); "
            f"{votes} of {n * len(NAMES)} board results in the votes, {replays} frames dropped "
            f"as replays at the gateway; proxy: {done}"
        )
    assert p99 <= (gw_dep.deadline_s + margin) * 1000
    assert errors <= n // 5  # boards stayed in: most requests have a vote
