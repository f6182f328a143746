"""Host binding of the portable C engine (``c/vp_engine.c`` beside this file) via ctypes.

The same C code runs in the MCU firmware and on the PYNQ fabric; on the host it backs the
emulated boards and lets tests prove the engine bit-exact against LiteRT. Needs numpy only.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import logging
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from firmware_bridge.errors import BridgeError

log = logging.getLogger(__name__)
_HERE = Path(__file__).resolve().parent
#: the C engine: every C file of ``c/`` but the host shim, which the firmware leaves out (setup.py,
#: the firmware Makefile, the firmware's cycle counts and the planner's calibration hash all take
#: this rule, so a new kernel file needs no list edited)
C_DIR = _HERE / "c"
HOST_SHIM = "vp_pyshim.c"
ENGINE_SOURCES = tuple(sorted(p.name for p in C_DIR.glob("*.c") if p.name != HOST_SHIM))
_SOURCES = (*ENGINE_SOURCES, HOST_SHIM)
STATUS = {
    0: "ok", -1: "bad argument", -2: "bad magic (not a .vpw)", -3: "unsupported version",
    -4: "inconsistent sizes", -5: "a layer reads or writes out of bounds", -6: "unknown op",
    -7: "scratch buffer too small", -8: "golden self-test output differs",
    -9: "packed for another target (repack: vp-edge pack --target cortex-m4|cortex-m7|generic)",
}  # fmt: skip


class EngineError(BridgeError):
    """The engine rejected a model or failed to run it; ``status`` is the C status code."""

    def __init__(self, message: str, status: int = 0, layer: int = -1) -> None:
        super().__init__(message)
        self.status, self.layer = status, layer


class _Info(ctypes.Structure):
    _fields_ = [
        ("vpw", ctypes.c_void_p),
        ("len", ctypes.c_uint32),
        ("n_layers", ctypes.c_uint32),
        ("arena_size", ctypes.c_uint32),
        ("in_size", ctypes.c_uint32),
        ("out_size", ctypes.c_uint32),
        ("in_offset", ctypes.c_uint32),
        ("out_offset", ctypes.c_uint32),
        ("in_shape", ctypes.c_int32 * 4),
        ("out_shape", ctypes.c_int32 * 4),
        ("in_zp", ctypes.c_int32),
        ("out_zp", ctypes.c_int32),
        ("layers_offset", ctypes.c_uint32),
        ("data_offset", ctypes.c_uint32),
        ("data_size", ctypes.c_uint32),
        ("golden_offset", ctypes.c_uint32),
        ("bad_layer", ctypes.c_int32),
        ("target", ctypes.c_int32),
    ]


def _find_library() -> Path | None:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        p = _HERE / f"_vp_engine{suffix}"
        if p.exists():
            return p
    return None


def _compile_fallback() -> Path:
    """Source checkouts that were never pip-installed: build once into a private temp dir."""
    out = Path(tempfile.gettempdir()) / f"vp_engine_{os.getuid()}" / "libvp_engine.so"
    srcs = [C_DIR / s for s in _SOURCES]
    if not out.exists() or out.stat().st_mtime < max(s.stat().st_mtime for s in srcs):
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".{os.getpid()}.so")
        cmd = [os.environ.get("CC", "cc"), "-std=c99", "-O3", "-fwrapv", "-shared", "-fPIC"]
        cmd += ["-o", str(tmp)]
        log.warning("C engine not built by pip; compiling it with %s", cmd[0])
        try:
            subprocess.run(cmd + [str(s) for s in srcs], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as e:
            raise EngineError(f"cannot build the C engine (run 'pip install -e .'): {e}") from e
        tmp.replace(out)
    return out


_LIB: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _LIB
    if _LIB is None:
        lib = ctypes.CDLL(str(_find_library() or _compile_fallback()))
        P, S = ctypes.c_void_p, ctypes.c_size_t
        lib.vp_engine_check.argtypes = [P, S, ctypes.POINTER(_Info)]
        lib.vp_engine_run.argtypes = [ctypes.POINTER(_Info), P, P, P, S]
        lib.vp_engine_load_input.argtypes = [ctypes.POINTER(_Info), P, P, S]
        lib.vp_engine_run_layer.argtypes = [ctypes.POINTER(_Info), ctypes.c_uint32, P, S]
        lib.vp_engine_read_output.argtypes = [ctypes.POINTER(_Info), P, P, S]
        lib.vp_engine_self_test.argtypes = [ctypes.POINTER(_Info), P, S, P]
        lib.vp_engine_info_size.restype = ctypes.c_uint32
        if lib.vp_engine_info_size() != ctypes.sizeof(_Info):
            raise EngineError("the C engine library does not match this binding; reinstall")
        _LIB = lib
    return _LIB


def _ptr(a: np.ndarray | ctypes.Array) -> int:
    return a.ctypes.data if isinstance(a, np.ndarray) else ctypes.addressof(a)


class Engine:
    """A checked .vpw model plus its scratch arena; ``run`` is one inference (batch 1)."""

    def __init__(self, vpw_bytes: bytes) -> None:
        self._buf = ctypes.create_string_buffer(bytes(vpw_bytes), len(vpw_bytes))
        self._info = _Info()
        rc = _lib().vp_engine_check(self._buf, len(vpw_bytes), ctypes.byref(self._info))
        if rc != 0:
            layer = self._info.bad_layer
            where = f" (layer {layer})" if layer >= 0 else ""
            raise EngineError(f"invalid .vpw: {STATUS.get(rc, rc)}{where}", rc, layer)
        self._scratch = np.zeros(max(self._info.arena_size, 1), np.uint8)
        self._layers = np.frombuffer(
            vpw_bytes, "<i4", self._info.n_layers * 48, self._info.layers_offset
        ).reshape(-1, 48)

    @property
    def info(self) -> dict:
        i = self._info
        return dict(
            n_layers=i.n_layers, arena_size=i.arena_size, input_shape=tuple(i.in_shape),
            output_shape=tuple(i.out_shape), input_zero_point=i.in_zp, output_zero_point=i.out_zp,
            input_size=i.in_size, output_size=i.out_size, has_golden=i.golden_offset != 0,
        )  # fmt: skip

    def _input(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x)
        if x.dtype != np.int8 or x.size != self._info.in_size:
            raise EngineError(f"input must be int8 with {self._info.in_size} values")
        return x

    def _check(self, rc: int) -> None:
        if rc != 0:
            raise EngineError(f"engine failed: {STATUS.get(rc, rc)}", rc)

    def run(self, x: np.ndarray) -> np.ndarray:
        """One inference; returns the output as int8 with the model's output shape."""
        x = self._input(x)
        y = np.empty(self._info.out_size, np.int8)
        rc = _lib().vp_engine_run(
            ctypes.byref(self._info), _ptr(x), _ptr(y), _ptr(self._scratch), self._scratch.size
        )
        self._check(rc)
        return y.reshape(tuple(self._info.out_shape))

    def run_batch(self, xs: np.ndarray) -> np.ndarray:
        """Many inferences, one per leading index."""
        return np.stack([self.run(x) for x in xs])

    def run_layers(self, x: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
        """Layer by layer: (TFLite op index, TFLite tensor index, int8 output) per layer, so a
        mismatch against LiteRT (``experimental_preserve_all_tensors``) names its first layer."""
        lib, info = _lib(), ctypes.byref(self._info)
        x = self._input(x)
        s = self._scratch
        self._check(lib.vp_engine_load_input(info, _ptr(x), _ptr(s), s.size))
        out = []
        for i, d in enumerate(self._layers):
            self._check(lib.vp_engine_run_layer(info, i, _ptr(s), s.size))
            if d[27] < 0:  # a partial layer (one input of a CONCATENATION)
                continue
            n = int(d[29]) if d[0] in (4, 8, 10, 13, 15) else int(d[9] * d[10] * d[11])
            vals = s[int(d[5]) : int(d[5]) + n].view(np.int8).copy()
            out.append((int(d[28]), int(d[27]), vals))
        return out

    def run_head(self, x: np.ndarray, stop: int) -> np.ndarray:
        """Layers 0..stop-1 on input ``x``; the flat int8 output of layer stop-1 (what a PYNQ
        board's PS runs before the FPGA overlay, e.g. a variant's input resize)."""
        lib, info = _lib(), ctypes.byref(self._info)
        x, s = self._input(x), self._scratch
        if not 1 <= stop <= self._info.n_layers:
            raise EngineError(f"bad head: {stop} layers of {self._info.n_layers}")
        self._check(lib.vp_engine_load_input(info, _ptr(x), _ptr(s), s.size))
        for i in range(stop):
            self._check(lib.vp_engine_run_layer(info, i, _ptr(s), s.size))
        d = self._layers[stop - 1]
        n = int(d[29]) if d[0] in (4, 8, 10, 13, 15) else int(d[9] * d[10] * d[11])
        return s[int(d[5]) : int(d[5]) + n].view(np.int8).copy()

    def run_tail(self, start: int, offset: int, values: np.ndarray) -> np.ndarray:
        """Layers ``start``.. on ``values`` placed at arena ``offset``: what a PYNQ board's PS runs
        after the FPGA overlay (fpga/program.py decides which layers and checks that they read
        only that tensor)."""
        lib, info = _lib(), ctypes.byref(self._info)
        s, v = self._scratch, np.ascontiguousarray(values, np.int8).view(np.uint8)
        if start < 1 or start > self._info.n_layers or offset < 0 or offset + v.size > s.size:
            raise EngineError(f"bad tail: layers from {start}, {v.size} bytes at {offset}")
        s[offset : offset + v.size] = v
        for i in range(start, self._info.n_layers):
            self._check(lib.vp_engine_run_layer(info, i, _ptr(s), s.size))
        y = np.empty(self._info.out_size, np.int8)
        self._check(lib.vp_engine_read_output(info, _ptr(y), _ptr(s), s.size))
        return y.reshape(tuple(self._info.out_shape))

    def self_test(self) -> bool:
        """Run the stored golden input and compare with the stored output."""
        if not self._info.golden_offset:
            raise EngineError("this .vpw has no golden section")
        y = np.empty(self._info.out_size, np.int8)
        rc = _lib().vp_engine_self_test(
            ctypes.byref(self._info), _ptr(self._scratch), self._scratch.size, _ptr(y)
        )
        if rc not in (0, -8):
            self._check(rc)
        return rc == 0
