"""Following one board, as ``vp-edge monitor`` does: a HEARTBEAT asked for every interval with
what changed since the last, and the new lines of an emulated board's log.

The board is named by a deployment (link, id, key, epoch and log file come from there) or by a
link URL with its id and key. Like ``devices --probe`` this speaks with the deployment's counter
epoch: a gateway already running for it must be restarted afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from vp_edge.errors import UsageError


class MonitorTarget(NamedTuple):
    """Where and as whom to ask: link URL, board id, key, counter epoch file, log file."""

    url: str
    board_id: int
    key: Any
    epoch_file: Path | None
    log: Path | None


def monitor_target(
    board: str,
    deployment: Path | None = None,
    board_id: int = 1,
    key_file: Path | None = None,
    insecure: bool = False,
) -> MonitorTarget:
    """``board`` of the deployment file, or the link URL ``board`` with a key file (the
    deployment's master key: the board's own is derived) or ``insecure``."""
    from firmware_bridge.protocol.keys import BoardKeys, read_key
    from vp_edge.deployment import load_deployment
    from vp_edge.devices import board_url

    if deployment is not None:
        dep = load_deployment(deployment, check_run=False)
        spec = next((b for b in dep.boards if b.name == board), None)
        if spec is None:
            raise UsageError(
                f"{deployment} has no board {board!r}; its boards: "
                f"{', '.join(b.name for b in dep.boards)}"
            )
        log = dep.state_dir / "logs" / f"{spec.name}.log"
        return MonitorTarget(board_url(dep, spec), spec.id, dep.board_keys, dep.epoch_file, log)
    if "://" not in board and not board.startswith("/dev/"):
        raise UsageError(
            f"BOARD {board!r}: a board name needs --deployment FILE; otherwise give a link URL"
        )
    if key_file is None and not insecure:
        raise UsageError("with a link URL give --key-file F or --insecure")
    key = None
    if key_file is not None:
        key = BoardKeys(read_key(key_file, f"--key-file {key_file}"))
    return MonitorTarget(board, board_id, key, None, None)


def follow_board(
    target: MonitorTarget,
    on_event: Callable[[dict], None],
    interval: float = 1.0,
    count: int | None = None,
) -> int:
    """Events to ``on_event``: the board's HELLO, then a heartbeat every ``interval`` seconds
    (with ``delta``: what changed) and each new log line; stops after ``count`` heartbeats
    (never when None). The heartbeats asked for."""
    from firmware_bridge.protocol.session import BoardSession
    from vp_edge.devices import LogTail, heartbeat

    tail = LogTail(target.log)
    n = 0
    prev: dict | None = None
    with BoardSession(
        target.url,
        board_id=target.board_id,
        key=target.key,
        epoch_file=target.epoch_file,
        timeout=0.5,
        tries=3,
    ) as s:
        on_event({"event": "hello", **_hello(s)})
        while count is None or n < count:
            t0 = time.monotonic()
            beat = heartbeat(s)
            n += 1
            on_event({"event": "heartbeat", **beat, **_delta(prev, beat)})
            prev = beat if "error" not in beat else prev
            for line in tail.lines():
                on_event({"event": "log", "line": line})
            if count is not None and n >= count:
                break
            time.sleep(max(0.0, interval - (time.monotonic() - t0)))
    return n


def _hello(s: Any) -> dict:
    h = s.hello()
    return {
        "variant": h.variant,
        "kind": getattr(h.board_kind, "name", "?").lower(),
        "k": h.k,
        "num_classes": h.num_classes,
        "model_sha256": h.model_sha256.hex(),
    }


def _delta(prev: dict | None, beat: dict) -> dict:
    keys = ("rx_ok", "rx_dropped", "inferences", "errors")
    if prev is None or "error" in beat:
        return {}
    return {"delta": {k: beat[k] - prev[k] for k in keys}}
