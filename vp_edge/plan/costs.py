"""Cost models of a candidate variant on a board: bytes, arena, compute time and link time.

Every figure is fitted on measurements of untrained candidates (``costs.json``, written by
``python -m experiments.plan_calibrate``), never guessed: bytes and arenas are linear in the
shape's weights, channels and live activations; Cortex-M instructions are linear in MACs per layer
kind and outputs (the firmware's kernels loop over exactly those); host milliseconds of XNNPACK
and of the C engine are linear in MACs and outputs. Least squares at load time, a millisecond.

Time on a board = instructions / clock for microcontrollers (CPI 1, as the bench models it), or
host milliseconds x the profile's ``HOST_FACTORS`` entry for Linux and PYNQ boards (written down
below, with why). Link time comes from the wire protocol's framing (``link_seconds``); a board on a
network link adds a measured per-request overhead (``vp_edge.plan.overhead``), its board part
scaled by the same factor; a board on a serial line its own measured term.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from firmware_bridge.engine import C_DIR, ENGINE_SOURCES
from vp_edge.errors import VpEdgeError
from vp_edge.plan.overhead import SerialOverhead, UdpOverhead, parse_overhead, parse_serial
from vp_edge.plan.shapes import Counts, Shape, counts

COSTS_FILE = Path(__file__).with_name("costs.json")
BRIDGE_DIR = Path(__file__).resolve().parents[2] / "firmware_bridge"


def engine_file_names() -> frozenset[str]:
    """The engine's C sources the firmware runs an inference with (``ENGINE_SOURCES``) and its
    headers, by file name: found anywhere under firmware_bridge, so moving them to another
    folder does not make the calibration stale."""
    return frozenset(ENGINE_SOURCES) | {p.name for p in C_DIR.glob("*.h")}


#: board profile -> (runtime the board computes with, factor on this host's measured time).
#: A Raspberry Pi 4 (Cortex-A72, 1.5 GHz) runs XNNPACK int8 about 4x slower than one core of an
#: x86 desktop of this class; the PYNQ-Z2's Cortex-A9 at 650 MHz runs the portable C engine about
#: 12x slower. Both are assumptions until a board is measured: ``vp-edge plan`` prints them.
HOST_FACTORS: dict[str, tuple[str, float]] = {
    "raspberry-pi-4": ("xnnpack_ms", 4.0),
    "pynq-z2": ("engine_ms", 12.0),
}
#: firmware core of each microcontroller profile's instruction counts (same ISA, same build)
CORE_OF_TARGET = {
    "mps2-an386": "cortex-m4",
    "stm32f405": "cortex-m4",
    "stm32f446-nucleo": "cortex-m4",
    "mps2-an500": "cortex-m7",
    "mps2-an505": "cortex-m4",
}
CPI = 1.0
#: The instruction model's terms: block steps, blocks and depthwise steps of the kernels, summed
#: over the layers, and a constant. On the nine Cortex-M4 counts of costs.json: largest error on
#: its rows 1.8 %, on a row left out 3.8 % (the whole-network model before it, linear in MACs by
#: kind and outputs: 17 % and 25 %). The requantised outputs as a fifth term: 1.6 % and 3.1 %
#: here but 14 % left out on the first seven counts (10 % without), so they are left to the
#: blocks, which they move with.
INSTRUCTION_TERMS = ("block steps", "blocks", "depthwise steps", "constant")


class CostModelError(VpEdgeError):
    """The cost measurements are missing, unreadable or do not cover a board."""


def engine_sources_sha256(root: Path = BRIDGE_DIR) -> str:
    """One hash of the C engine's sources (names and contents, not folders): instruction counts
    measured on other kernels are stale, counts of the same kernels moved elsewhere are not."""
    names = engine_file_names()
    found = {p for p in root.rglob("*.[ch]") if p.name in names}
    if not found:
        raise CostModelError(f"no C engine sources ({', '.join(sorted(names))}) under {root}")
    h = hashlib.sha256()
    for p in sorted(found, key=lambda p: (p.name, p.read_bytes())):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def _features(c: Counts, quantity: str) -> list[float]:
    """The regressors of one quantity (a constant last)."""
    dense = c.macs_by_kind.get("conv", 0) + c.macs_by_kind.get("pw", 0)
    dense += c.macs_by_kind.get("fc", 0)
    weighted_out = sum(c.outputs_by_kind.get(k, 0) for k in ("conv", "pw", "dw"))
    other_out = sum(c.outputs_by_kind.get(k, 0) for k in ("add", "pool", "resize"))
    if quantity.endswith("_bytes"):  # every variant has the same number of layers
        return [c.weights, c.channels, 1.0]
    if quantity == "arena_engine":  # the packer adds the largest kernel scratch to the tensors
        return [c.peak_live, c.max_scratch, c.channels, 1.0]
    if quantity.startswith("arena"):  # tflite-micro keeps per-channel quantisation in its arena
        return [c.peak_live, c.channels, 1.0]
    if quantity.endswith("_instructions"):  # per layer: the kernels' loop trips (see shapes)
        steps, blocks, _, dw_steps, _, _ = c.kernel_terms
        return [
            steps,
            blocks,
            dw_steps,
            1.0,
        ]  # outputs: in step with blocks (see INSTRUCTION_TERMS)
    return [c.macs, weighted_out + other_out, 1.0]  # host milliseconds


@dataclass(frozen=True)
class Fit:
    """A least-squares fit of one quantity and how well it reproduced its own rows."""

    coef: tuple[float, ...]
    max_rel_error: float
    rows: int
    #: the largest error on a row left out of the fit (leave-one-out): what a new shape gets
    held_out_error: float | None = None

    def __call__(self, c: Counts, quantity: str) -> float:
        return float(np.dot(self.coef, _features(c, quantity)))


@dataclass(frozen=True)
class CostModel:
    fits: dict[str, Fit]
    source: dict  # the measurement file's provenance (date, machine, engine hash)
    udp: UdpOverhead | None = None  # per-request overhead of UDP boards (None: not measured)
    serial: SerialOverhead | None = None  # the same for serial boards

    def predict(self, s: Shape, quantity: str) -> float:
        if quantity not in self.fits:
            raise CostModelError(f"no measurements of {quantity} in {COSTS_FILE}")
        return self.fits[quantity](counts(s), quantity)

    @property
    def stale(self) -> bool:
        """True when the instruction counts were measured on other engine sources."""
        return self.source.get("engine_sources_sha256") != engine_sources_sha256()


def _shape(row: dict, doc: dict) -> Shape:
    hw = doc["input_shape"]
    return Shape(
        int(row["resolution"]),
        float(row["alpha"]),
        int(row["head"]),
        int(hw[2]),
        int(doc["num_classes"]),
        int(doc["stem_stride"]),
        int(doc["output_stride"]),
        input_hw=(int(hw[0]), int(hw[1])),
    )


def fit_rows(doc: dict) -> dict[str, Fit]:
    """One fit per measured quantity, over the rows that have it."""
    knobs = {"resolution", "alpha", "head", "macs", "counted_on"}
    quantities = sorted({k for r in doc["rows"] for k in r} - knobs)
    fits = {}
    engine = doc.get("engine_sources_sha256")
    fresh = [r for r in doc["rows"] if engine and r.get("counted_on") == engine]
    for q in quantities:
        # the packer's arena follows the kernels' scratch: where some rows were packed for
        # today's kernels (counted on them), rows left from older ones do not count
        rows = fresh if q == "arena_engine" and fresh else doc["rows"]
        rows = [r for r in rows if r.get(q) is not None]
        if len(rows) < 3:
            continue
        x = np.array([_features(counts(_shape(r, doc)), q) for r in rows], dtype=np.float64)
        y = np.array([float(r[q]) for r in rows])
        coef = np.linalg.lstsq(x, y, rcond=None)[0]
        err = np.abs(x @ coef - y) / np.maximum(np.abs(y), 1e-9)
        fits[q] = Fit(tuple(float(v) for v in coef), float(err.max()), len(rows), _loo(x, y))
    return fits


def _loo(x: np.ndarray, y: np.ndarray) -> float | None:
    """Largest relative error on a row predicted by the fit of the other rows (None when there
    are too few rows to leave one out)."""
    if len(y) <= x.shape[1] + 1:
        return None
    worst = 0.0
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        coef = np.linalg.lstsq(x[keep], y[keep], rcond=None)[0]
        worst = max(worst, abs(float(x[i] @ coef) - y[i]) / max(abs(y[i]), 1e-9))
    return worst


@cache
def load_costs(path: Path = COSTS_FILE) -> CostModel:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CostModelError(
            f"cannot read the planner's measurements {path}: {e}; "
            "run 'python -m experiments.plan_calibrate'"
        ) from None
    source = {k: v for k, v in doc.items() if k != "rows"}
    try:
        udp = parse_overhead(doc.get("udp_overhead"))
        serial = parse_serial(doc.get("serial_overhead"))
    except (KeyError, TypeError, ValueError) as e:
        raise CostModelError(
            f"{path}: udp_overhead or serial_overhead is unreadable ({e!r}); "
            "rerun 'python -m experiments.plan_overhead'"
        ) from None
    return CostModel(fit_rows(doc), source, udp, serial)


def host_factor(profile: str) -> float:
    """How many times slower than the calibration host a Linux or PYNQ profile's CPU is
    (``HOST_FACTORS``; 1 for a profile not listed)."""
    return HOST_FACTORS.get(profile, ("", 1.0))[1]
