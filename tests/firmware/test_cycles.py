"""The Cortex-M4 cycle estimate: TRM prices of a QEMU in_asm/exec log, taken branches from the
order blocks ran in (pure: a hand-written log, no QEMU)."""

from __future__ import annotations

import pytest

from firmware_bridge.firmware.cycles import base_mnemonic, block_cycles, count_trace

# a two-block loop run three times: the loop branch taken twice, then falling through to 0x110
LOG = """----------------
IN: dot
0x00000100:  6803       ldr      r3, [r0]
0x00000102:  f851 4b04  ldr      r4, [r1], #4
0x00000106:  fb23 5504  smlad    r5, r3, r4, r5
0x0000010a:  3a01       subs     r2, #1
0x0000010c:  d1f8       bne      #0x100

Trace 0: 0x7f00 [00800408/00000100/00000110/ff000200] dot
Trace 0: 0x7f00 [00800408/00000100/00000110/ff000200] dot
Trace 0: 0x7f00 [00800408/00000100/00000110/ff000200] dot
----------------
IN: dot
0x0000010e:  bd30       pop      {r4, r5, pc}

Trace 0: 0x7f40 [00800408/0000010e/00000110/ff000200] dot
"""


def test_a_loop_is_priced_by_the_trm_table():
    t = count_trace(LOG.splitlines())
    # per pass: ldr 2, pipelined ldr 1, smlad 1, subs 1, bne 1 = 6; pop {r4, r5, pc} 1 + 3
    assert t.instructions == 3 * 5 + 1
    assert t.base_cycles == 3 * 6 + 4
    # taken: the loop branch twice (0x10e follows the third pass: not taken); the pop's return
    # leaves the traced code, so nothing follows it
    assert t.taken == 2
    assert t.cycles(2) == 22 + 2 * 2 and t.cycles(1) < t.cycles(3)


def test_an_interrupted_block_is_not_counted():
    log = LOG + "Stopped execution of TB chain before 0x7f40 [0000010e] dot\n"
    assert count_trace(log.splitlines()).instructions == 15


@pytest.mark.parametrize(
    "raw,base",
    [
        ("ldrbne.w", "ldrb"),
        ("adds", "add"),
        ("bls", "b"),
        ("bl", "bl"),
        ("itte", "it"),
        ("teq", "teq"),
        ("mls", "mls"),
        ("sxtble", "sxtb"),
        ("smlad", "smlad"),
    ],
)
def test_mnemonics_lose_conditions_and_flags(raw, base):
    assert base_mnemonic(raw) == base


def test_loads_multiples_and_divides():
    assert block_cycles([("ldrd", "r0, r1, [r2]"), ("push", "{r4, r5, r6, r7, lr}")]) == 3 + 6
    assert block_cycles([("str", "r0, [r1]"), ("str", "r0, [r1, #4]")]) == 2 + 1
    assert block_cycles([("sdiv", "r0, r1, r2")]) == 12
