"""An estimate of Cortex-M4 cycles from the instructions QEMU executes (QEMU counts only those).

QEMU logs every translated block's instructions (``-d in_asm``) and every block it executes
(``-d exec,nochain``: no chaining, so each execution is logged), restricted with ``-dfilter`` to
the engine's code and the C library's memcpy/memset. Each executed instruction is priced with the
Cortex-M4 Technical Reference Manual's Table 3-1 (ARM 100166, "Processor instruction set summary",
zero wait states); a branch is known taken when the next executed block does not start right
after it. Assumptions, all stated with the figure:

- zero wait states (the TRM's own basis; flash wait states hidden by a cache or accelerator);
- a taken branch costs 1 + P with P = 2 (the TRM gives P = 1..3 by target alignment and width and
  whether the address was speculated early); ``low``/``high`` are the same sums with P = 1 and 3;
- a load or store single costs 2, or 1 right after another load/store single (the TRM's note on
  neighbouring loads and stores pipelining; address-dependency stalls are not modelled);
- LDRD/STRD 1 + 2, LDM/STM/PUSH/POP 1 + N registers, TBB/TBH 2 + P, SDIV/UDIV 12 (the TRM's
  worst case of 2..12), every other instruction (ALU, MUL/MLA, SMULL/SMLAL, SMLAD, SXTB16, IT) 1.

The estimate of a whole inference is its exact ``-icount`` instruction count times the traced
cycles per instruction: the traced code is the engine itself, which is where an inference runs.
The traced run keeps ``-icount`` too, so the firmware's timeouts run on the same virtual clock
however slowly the logging makes QEMU run.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..engine import ENGINE_SOURCES
from .build import FirmwareError

P_PIPELINE = 2
CONDS = {"eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt",
         "gt", "le", "al"}  # fmt: skip
SINGLE = {"ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "ldrex", "str", "strb", "strh", "strex"}
DOUBLE = {"ldrd", "strd"}
MULTI = {"ldm", "ldmia", "ldmdb", "ldmfd", "stm", "stmia", "stmdb", "stmea", "push", "pop"}
BRANCH = {"b", "bl", "bx", "blx", "cbz", "cbnz"}
TABLE = {"tbb", "tbh"}
DIV = {"sdiv", "udiv"}
ALU = set(
    "mov mvn movw movt add addw adc sub subw sbc rsb mul mla mls smull umull smlal umlal and orr "
    "eor bic orn lsl lsr asr ror rrx cmp cmn tst teq sxtb sxth uxtb uxth sxtb16 uxtb16 sxtab sxtah "
    "uxtab uxtah sxtab16 smlad smladx smlabb smlabt smlatb smlatt smulbb smultt smulbt smultb "
    "smuad smlsd ssat usat qadd qsub sadd16 ssub16 pkhbt pkhtb clz rev rev16 ubfx sbfx bfi bfc "
    "adr nop mrs msr cpsid cpsie dsb dmb isb".split()
)
KNOWN = SINGLE | DOUBLE | MULTI | BRANCH | TABLE | DIV | ALU
_INSN = re.compile(r"^0x([0-9a-f]+):\s+([0-9a-f]{4})(?: ([0-9a-f]{4}))?\s+(\S+)\s*(.*)$")
_TRACE = re.compile(r"^Trace \d+: \S+ \[[0-9a-f]+/([0-9a-f]+)/")
_STOPPED = re.compile(r"^Stopped execution of TB chain before \S+ \[([0-9a-f]+)\]")


def base_mnemonic(m: str) -> str:
    """``ldrbne.w`` -> ``ldrb``, ``adds`` -> ``add``, ``bls`` -> ``b``, ``itte`` -> ``it``."""
    m = m.lower().split(".")[0]
    if m in KNOWN:
        return m
    if re.fullmatch(r"it[te]{0,3}", m):
        return "it"
    if len(m) > 2 and m[-2:] in CONDS and m[:-2] in KNOWN:
        return m[:-2]
    if m.endswith("s") and m[:-1] in KNOWN:
        return m[:-1]
    if len(m) > 3 and m[-2:] in CONDS and m[-3] == "s" and m[:-3] in KNOWN:
        return m[:-3]
    return m


def _registers(ops: str) -> int:
    """Registers in a ``{r4, r5, lr}`` list (ranges ``r4-r7`` counted out)."""
    inside = ops[ops.find("{") + 1 : ops.find("}")]
    n = 0
    for part in filter(None, (p.strip() for p in inside.split(","))):
        if "-" in part:
            a, b = (int(x.strip().lstrip("r")) for x in part.split("-"))
            n += b - a + 1
        else:
            n += 1
    return n


def block_cycles(insns: list[tuple[str, str]]) -> int:
    """Cycles of one block's instructions with every branch not taken (P added per taken one)."""
    total, prev_single = 0, False
    for mnem, ops in insns:
        m = base_mnemonic(mnem)
        if m in SINGLE:
            total += 1 if prev_single else 2
        elif m in DOUBLE:
            total += 3
        elif m in MULTI:
            total += 1 + _registers(ops)
        elif m in TABLE:
            total += 2
        elif m in DIV:
            total += 12
        else:
            total += 1
        prev_single = m in SINGLE
    return total


@dataclass
class TraceCount:
    """Executed instructions and estimated cycles of the traced code (P = 1, 2, 3)."""

    instructions: int
    base_cycles: int
    taken: int
    blocks: int
    #: instructions executed per block address (where the engine spends them: by_function)
    per_block: dict[int, int] = field(default_factory=dict)

    def cycles(self, p: int = P_PIPELINE) -> int:
        return self.base_cycles + p * self.taken

    def per_instruction(self, p: int = P_PIPELINE) -> float:
        return self.cycles(p) / self.instructions if self.instructions else 0.0


def count_trace(lines: Iterable[str]) -> TraceCount:
    """Price a QEMU ``-d in_asm,exec,nochain`` log, block by block, as it streams past.

    Under ``-icount`` QEMU may translate a shorter block at an address to stop on the
    instruction budget; the longest translation seen at an address prices its executions."""
    body: dict[int, list[tuple[str, str]]] = {}
    end: dict[int, int] = {}  # address right after a block's last instruction
    execs: Counter[int] = Counter()
    taken: Counter[int] = Counter()
    new: list[tuple[int, int, str, str]] = []  # the block being read: address, bytes, insn
    prev: int | None = None

    def close() -> None:
        if new and len(new) >= len(body.get(new[0][0], ())):
            body[new[0][0]] = [(m, o) for _, _, m, o in new]
            end[new[0][0]] = new[-1][0] + new[-1][1]
        new.clear()

    for line in lines:
        if line.startswith("0x"):
            m = _INSN.match(line)
            if m:
                new.append((int(m.group(1), 16), 4 if m.group(3) else 2, m.group(4), m.group(5)))
            continue
        close()
        if line.startswith("Trace"):
            m = _TRACE.match(line)
            if not m:
                continue
            pc = int(m.group(1), 16)
            execs[pc] += 1
            if prev is not None and prev in end and pc != end[prev]:
                taken[prev] += 1
            prev = pc
        elif line.startswith("Stopped"):  # logged, then not run: an interrupt came first
            m = _STOPPED.match(line)
            if m and execs[int(m.group(1), 16)] > 0:
                execs[int(m.group(1), 16)] -= 1
    close()
    per_block = {pc: len(body.get(pc, ())) * n for pc, n in execs.items()}
    base = sum(block_cycles(body.get(pc, [])) * n for pc, n in execs.items())
    return TraceCount(sum(per_block.values()), base, sum(taken.values()), len(body), per_block)


def by_function(elf: Path, per_block: dict[int, int], tools: str = "arm-none-eabi-") -> Counter:
    """Executed instructions per function of ``elf`` (a block is charged to the function its
    first instruction lies in): where an inference spends its instructions."""
    out = subprocess.run(
        [f"{tools}nm", "-S", "-n", str(elf)], capture_output=True, text=True, check=True
    ).stdout
    spans = []
    for f in (ln.split() for ln in out.splitlines()):
        if len(f) == 4 and f[2].lower() == "t":
            spans.append((int(f[0], 16) & ~1, int(f[1], 16), f[3]))
    tally: Counter[str] = Counter()
    for pc, n in per_block.items():
        name = next((s for a, size, s in spans if a <= pc < a + size), f"{pc:#x}")
        tally[name] += n
    return tally


def _functions(elf: Path, readelf: str) -> set[str]:
    out = subprocess.run(
        [readelf, "-sW", str(elf)], capture_output=True, text=True, check=True
    ).stdout
    return {f[7] for f in (ln.split() for ln in out.splitlines()) if len(f) > 7 and f[3] == "FUNC"}


def engine_ranges(elf: Path, tools: str = "arm-none-eabi-") -> list[tuple[int, int]]:
    """Address ranges of the engine (functions of its C files, ``ENGINE_SOURCES``, from the
    ELF's debug lines) and of memcpy/memset, which its im2col calls."""
    out = subprocess.run(
        [f"{tools}nm", "-S", "-n", "-l", str(elf)], capture_output=True, text=True, check=True
    ).stdout
    if not ENGINE_SOURCES:  # an install without the C sources cannot have built the firmware
        raise FirmwareError("no C engine sources in firmware_bridge/engine/c: use a checkout")
    funcs = _functions(elf, f"{tools}readelf")
    names = "|".join(map(re.escape, ENGINE_SOURCES))
    engine_file = re.compile(rf"(?:^|[/\s])(?:{names}):")
    lo, hi, extra = None, None, []
    for line in out.splitlines():
        f = line.split()
        if len(f) < 4 or f[2].lower() != "t" or f[3] not in funcs:
            continue
        addr, size = int(f[0], 16) & ~1, int(f[1], 16)
        if engine_file.search(line):
            lo = addr if lo is None else min(lo, addr)
            hi = addr + size if hi is None else max(hi, addr + size)
        elif f[3] in ("memcpy", "memset"):
            extra.append((addr, addr + size))
    if lo is None or hi is None:
        raise FirmwareError(f"{elf}: no engine functions in its symbols (built without -g?)")
    return [(lo, hi), *extra]


def trace_args(elf: Path, log: Path) -> tuple[str, ...]:
    """QEMU options that log the engine's blocks and their executions into ``log``."""
    ranges = ",".join(f"{a:#x}..{b - 1:#x}" for a, b in engine_ranges(elf))
    return ("-d", "in_asm,exec,nochain", "-D", str(log), "-dfilter", ranges)


class TraceReader:
    """A FIFO that QEMU logs into and a thread pricing the log as it streams out (the log of a
    whole inference runs to hundreds of megabytes: it never touches the disk)."""

    def __init__(self, elf: Path, folder: Path) -> None:
        self.path = Path(folder) / "qemu-trace.fifo"
        os.mkfifo(self.path)
        self.args = trace_args(elf, self.path)
        self.result: TraceCount | None = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with open(self.path, errors="replace") as fh:
            self.result = count_trace(fh)

    def wait(self, timeout: float) -> TraceCount:
        """The priced trace, once QEMU has exited and closed its log."""
        self.thread.join(timeout)
        if self.result is None:
            raise FirmwareError("the QEMU trace did not end (is QEMU still running?)")
        return self.result
