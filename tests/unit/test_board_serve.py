"""``vp_edge.board_serve``: which daemon serves a kind, and what is refused before any socket."""

from __future__ import annotations

from pathlib import Path

import pytest

from boards.daemon import BoardOptions
from vp_edge.board_serve import serve_board, stopped_line
from vp_edge.errors import BoardError


def _opts(kind: str) -> BoardOptions:
    return BoardOptions(Path("m.tflite"), "udp://127.0.0.1:0", 1, None, kind)


def test_qemu_board_is_its_firmware() -> None:
    with pytest.raises(BoardError, match="'vp-edge emulate' boots it"):
        serve_board(_opts("qemu"))


def test_overlay_and_simulate_belong_to_pynq() -> None:
    with pytest.raises(BoardError, match="belong to --kind pynq"):
        serve_board(_opts("linux"), overlay=Path("x.bit"))
    with pytest.raises(BoardError, match="belong to --kind pynq"):
        serve_board(_opts("mcu"), simulate=True)


def test_pynq_needs_an_overlay_or_the_simulator() -> None:
    with pytest.raises(BoardError, match="needs --overlay PATH"):
        serve_board(_opts("pynq"))


def test_stopped_line() -> None:
    stats = {"inferences": 3, "tx": 5, "rx": {"accepted": 4, "bad_tag": 1, "replay": 2}}
    assert stopped_line(7, "a04_r24", stats) == (
        "board 7 (a04_r24) stopped: 3 inferences, 5 frames sent, 4 accepted, 3 dropped"
    )
