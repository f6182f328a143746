"""Ctrl-C during an epoch's writes takes effect after them (vp_edge.interrupts)."""

from __future__ import annotations

import os
import signal

import pytest

from vp_edge.interrupts import deferred_interrupt


def test_sigint_inside_the_block_is_raised_after_it() -> None:
    done = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupt():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("after the signal")  # the block runs to its end
    assert done == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_no_signal_no_interrupt() -> None:
    with deferred_interrupt():
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
