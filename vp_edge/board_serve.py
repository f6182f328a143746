"""A board daemon as ``vp-edge board serve`` runs it, callable from a script the same way.

Which daemon serves depends on the kind: linux and mcu boards run ``boards.daemon``'s server
until SIGTERM or Ctrl-C and return its counters; a pynq board runs the PYNQ daemon (a real
overlay, or ``simulate``); a qemu board is refused, naming where it comes from (its firmware is
the board: ``vp-edge emulate`` boots it).
"""

from __future__ import annotations

import signal
from pathlib import Path

from boards.daemon import BoardOptions
from vp_edge.errors import BoardError


def serve_board(
    opts: BoardOptions,
    overlay: Path | None = None,
    simulate: bool = False,
    ready_file: Path | None = None,
) -> tuple[dict, str] | None:
    """Serve until stopped; the daemon's counters and the variant it served (None for a pynq
    board, whose daemon keeps its own)."""
    if opts.kind in ("pynq", "qemu") or overlay or simulate:
        _serve_pynq(opts, overlay, simulate)
        return None
    from boards.daemon import build_server, write_ready

    server = build_server(opts)

    def stop(*_: object) -> None:
        server.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if ready_file:
        write_ready(ready_file, server)
    try:
        server.serve()
    finally:
        server.close()
    return server.stats, server.cfg.variant


def _serve_pynq(opts: BoardOptions, overlay: Path | None, simulate: bool) -> None:
    """pynq: the PYNQ daemon (boards.pynq.serve); qemu: refused with where it comes from."""
    if opts.kind == "qemu":
        raise BoardError(
            "a qemu board runs the board firmware, not this daemon: 'vp-edge "
            "emulate' boots it in QEMU and loads its model with 'vp-edge flash' "
            "(see docs/firmware.md)"
        )
    if opts.kind != "pynq":
        raise BoardError("--overlay and --simulate belong to --kind pynq")
    if overlay is None and not simulate:
        raise BoardError("a pynq board needs --overlay PATH (the vp_top .bit) or --simulate")
    from boards.pynq import serve as pynq_serve

    pynq_serve(
        opts.model,
        opts.listen,
        overlay=overlay,
        simulate=simulate,
        board_id=opts.board_id,
        key=opts.key,
        k=opts.k,
        variant=opts.variant,
        heartbeat_s=opts.heartbeat_s,
        model_dir=opts.model_dir,
    )


def stopped_line(board_id: int, variant: str, stats: dict) -> str:
    """The daemon's counters for people, once it stopped."""
    dropped = sum(v for k, v in stats["rx"].items() if k != "accepted")
    return (
        f"board {board_id} ({variant}) stopped: {stats['inferences']} "
        f"inferences, {stats['tx']} frames sent, {stats['rx']['accepted']} accepted, "
        f"{dropped} dropped"
    )
