"""Multi-stage parts: the ``.vpb`` bundle and ``StagedRunner`` (DISCO nodes).

A ``.vpb`` is a zip holding ``manifest.json`` and one int8 ``.tflite`` per stage::

    {"format": "vpb", "version": 1,
     "stages": [
       {"file": "stage0.tflite",
        "own": null,                       # stage 0: the input is the request tensor itself
        "received": null,
        "input": {"shape": [28, 28, 1], "scale": s, "zero_point": z},
        "output": {"shape": [14, 14, 8], "scale": s, "zero_point": z},
        "reply": [0, 3, 5]},               # output channels (last axis) sent back; null = all
       {"file": "stage1.tflite",
        "own": {"channels": 8},            # this node's cached stage-0 output (all channels)
        "received": {"channels": 3, "scale": s, "zero_point": z},   # the other node's reply
        "input": {"shape": [14, 14, 11], ...}, "output": {...}, "reply": null}]}

Stage s > 0 takes the request tensor as the other node's reply (``received``: channels-last,
its spatial shape is the stage input's), dequantises it and this node's cached stage s-1
output, requantises both to the stage's input scale (``requantize``: round half away from
zero, the rule of ``vp_edge.preprocess.quantize``) and runs the stage on their channel
concatenation ``[own, received]``. The runner keeps one cached activation per key (the
request id), the oldest evicted beyond ``cache_size``; the last stage drops its key.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from boards.errors import BoardError
from boards.runners import LiteRtRunner, Runner

ZIP_MAGIC = b"PK\x03\x04"
MANIFEST = "manifest.json"
FORMAT = "vpb"
VERSION = 1


def requantize(
    q: np.ndarray, from_scale: float, from_zp: int, to_scale: float, to_zp: int
) -> np.ndarray:
    """int8 -> float (sender's scale/zp) -> int8 (receiver's), round half away, saturated."""
    f = (np.asarray(q, np.float64) - int(from_zp)) * float(from_scale) / float(to_scale)
    r = np.sign(f) * np.floor(np.abs(f) + 0.5) + int(to_zp)
    return np.clip(r, -128, 127).astype(np.int8)


@dataclass(frozen=True)
class Bundle:
    """A parsed .vpb: the manifest and each stage's .tflite bytes."""

    manifest: dict
    stages: tuple[bytes, ...]


def write_vpb(stages: list[tuple[dict, bytes]]) -> bytes:
    """A .vpb from (stage manifest entry without "file", .tflite bytes), in stage order."""
    entries = []
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for i, (entry, tflite) in enumerate(stages):
            name = f"stage{i}.tflite"
            entries.append({"file": name, **entry})
            z.writestr(_fixed_info(name), tflite)
        doc = {"format": FORMAT, "version": VERSION, "stages": entries}
        z.writestr(_fixed_info(MANIFEST), json.dumps(doc, indent=2) + "\n")
    return buf.getvalue()


def _fixed_info(name: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed date, so the same stages give the same bytes."""
    return zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))


def read_vpb(data: bytes) -> Bundle:
    """Parse a .vpb, refusing anything else in one line naming what is wrong."""
    if not bytes(data[:4]) == ZIP_MAGIC:
        raise BoardError("not a .vpb bundle (no zip signature): make one with 'vp-edge convert'")
    try:
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            manifest = json.loads(z.read(MANIFEST))
            if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
                raise BoardError(
                    f".vpb manifest: format {manifest.get('format')!r} version "
                    f"{manifest.get('version')!r}; expected {FORMAT!r} {VERSION}"
                )
            stages = tuple(z.read(s["file"]) for s in manifest["stages"])
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as e:
        raise BoardError(
            f".vpb bundle unreadable ({type(e).__name__}: {e}); reconvert it"
        ) from None
    if not stages:
        raise BoardError(".vpb bundle has no stages; reconvert it")
    return Bundle(manifest, stages)


class StagedRunner(Runner):
    """Runs a .vpb part stage by stage, keeping this node's activation per key between stages."""

    name = "staged"
    artefact = ".vpb"

    def __init__(
        self, model: bytes, kernels: str | None = None, cache_size: int = 64, **options: Any
    ) -> None:
        super().__init__(model)
        bundle = read_vpb(self.model)
        self.manifest = bundle.manifest
        self.entries: list[dict] = list(bundle.manifest["stages"])
        self._runners = [LiteRtRunner(b, kernels=kernels) for b in bundle.stages]
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.cache_size = int(cache_size)
        self.input_shape = self._runners[0].input_shape
        self.output_size = self._reply_size(0)

    @property
    def stages(self) -> int:
        return len(self._runners)

    def _reply_size(self, stage: int) -> int:
        e = self.entries[stage]
        spatial = int(np.prod(e["output"]["shape"][:-1]))
        chans = len(e["reply"]) if e["reply"] is not None else e["output"]["shape"][-1]
        return spatial * chans

    def stage_input_bytes(self, stage: int) -> int:
        """Bytes of the request tensor stage ``stage`` takes (0: the image)."""
        self._check_stage(stage)
        e = self.entries[stage]
        if stage == 0:
            return int(np.prod(e["input"]["shape"]))
        return int(np.prod(e["input"]["shape"][:-1])) * int(e["received"]["channels"])

    def _check_stage(self, stage: int) -> None:
        if not 0 <= stage < self.stages:
            raise BoardError(f"stage {stage} out of range: this part has {self.stages} stages")

    def run(self, x: np.ndarray) -> np.ndarray:
        """Stage 0 with no key kept (a plain INFER)."""
        return self.run_stage(-1, 0, x)

    def run_stage(self, key: int, stage: int, x: np.ndarray) -> np.ndarray:
        """Run ``stage`` for request ``key``: the int8 reply (selected channels, flattened)."""
        self._check_stage(stage)
        x = np.asarray(x, np.int8).reshape(-1)
        if x.size != self.stage_input_bytes(stage):
            raise BoardError(
                f"stage {stage} takes {self.stage_input_bytes(stage)} bytes, got {x.size}"
            )
        e = self.entries[stage]
        inp = x if stage == 0 else self._combine(key, stage, x)
        out = self._runners[stage].run(inp).reshape(e["output"]["shape"])
        self._cache.pop(key, None)
        if stage < self.stages - 1 and key >= 0:
            self._cache[key] = out
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        reply = out if e["reply"] is None else out[..., list(e["reply"])]
        return np.ascontiguousarray(reply).reshape(-1)

    def _combine(self, key: int, stage: int, received: np.ndarray) -> np.ndarray:
        """[own cached activation, received channels], both requantised to the stage input."""
        own = self._cache.get(key)
        if own is None:
            raise BoardError(
                f"stage {stage} for request {key}: no stage {stage - 1} "
                "activation cached (evicted, or stage 0 never ran)"
            )
        e, prev = self.entries[stage], self.entries[stage - 1]
        inp, rec = e["input"], e["received"]
        shape = tuple(inp["shape"][:-1]) + (int(rec["channels"]),)
        a = requantize(
            own,
            prev["output"]["scale"],
            prev["output"]["zero_point"],
            inp["scale"],
            inp["zero_point"],
        )
        b = requantize(
            received.reshape(shape),
            rec["scale"],
            rec["zero_point"],
            inp["scale"],
            inp["zero_point"],
        )
        return np.concatenate([a, b], axis=-1).reshape(-1)

    def cached_keys(self) -> tuple[int, ...]:
        """Keys with an activation waiting for their next stage (oldest first)."""
        return tuple(self._cache)
