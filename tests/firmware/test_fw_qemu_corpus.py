"""The Cortex-M path (SXTB16/SMLAD kernels, cortex-m4 layout) through the firmware in QEMU equals
LiteRT BUILTIN_REF on conformance-corpus models (tests/engine/make_corpus.py).

Two checks per model: the board's own self-test at commit compares its whole output for the
golden input with the stored one, which the test first proves equal to LiteRT's; then INFER
answers on random inputs equal the top-5 of LiteRT's output."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from fw_helpers import BOARD_ID, KEY, cli_flash

from converters.verify import reference_interpreter
from converters.vpw import read_vpw, tflite_to_vpw
from firmware_bridge.firmware import qemu
from firmware_bridge.protocol.session import BoardSession

pytestmark = [pytest.mark.tf, pytest.mark.slow]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "engine"))
from make_corpus import ensure  # noqa: E402

#: one model per builder, per-channel and per-tensor weights between them; conv_paths: the
#: CONV_2D paths the others miss; dw_shapes: the 3x3 depthwise shapes of the border kernel
#: (dilation, odd stride-2 input, one-pixel-wide map); im2col_quads: short im2col rows four
#: pixels a pass, border and tail included; dw_paths: dw3x3_row_clamp and the general
#: requantisation of 3x3 depthwise; pw_paths: pw_quads past one unrolled pass, its narrow clamps
#: on both requantisations, and pw_one (make_corpus.EXTRA_BUILDERS)
NAMES = ["dense_stack-pt-1", "residual_cnn-pt-1", "kws_dscnn-pc-0", "mobile_block-pt-0",
         "misc_ops-ptdense-1", "dense_sigmoid-pc-1", "conv_paths-pc-0", "dw_shapes-pc-0",
         "dw_shapes-pt-1", "im2col_quads-pc-0", "dw_paths-pc-0", "pw_paths-pc-0"]  # fmt: skip


def _reference(it, x: np.ndarray) -> np.ndarray:
    d = it.get_input_details()[0]
    it.set_tensor(d["index"], x.reshape(d["shape"]))
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]).ravel().copy()


def _top5(y: np.ndarray) -> tuple[tuple[int, int], ...]:
    order = sorted(range(y.size), key=lambda i: (-int(y[i]), i))[:5]
    return tuple((i, int(y[i])) for i in order)


def test_cortex_m_path_in_qemu_equals_litert(qemu_elf, epoch_file, tmp_path, pytestconfig):
    pytest.importorskip("tensorflow")
    cache = ensure(Path(pytestconfig.cache.mkdir("vp_engine_corpus_v1")), NAMES)
    board = qemu.start_qemu(tmp_path / "flash.bin", board_id=BOARD_ID, key=KEY, elf=qemu_elf)
    try:
        for name in NAMES:
            tfl = (cache / f"{name}.tflite").read_bytes()
            it = reference_interpreter(tfl)
            size = int(np.prod(read_vpw(tflite_to_vpw(tfl)).input_shape))
            rng = np.random.default_rng(5)
            golden = rng.integers(-128, 128, size, dtype=np.int8)
            vpw = tflite_to_vpw(tfl, golden_input=golden, target="cortex-m4")
            assert np.array_equal(read_vpw(vpw).golden_output, _reference(it, golden)), name
            rc, rep = cli_flash(tmp_path, board.url, vpw, epoch_file, "--timeout", "1.0",
                                "--retries", "5")  # fmt: skip
            assert rc == 0 and rep["verified"], (name, rep)  # the board's self-test passed
            with BoardSession(board.url, board_id=BOARD_ID, key=KEY, epoch_file=epoch_file,
                              timeout=1.0) as s:  # fmt: skip
                for _ in range(3):
                    x = rng.integers(-128, 128, size, dtype=np.int8)
                    assert s.infer(x.tobytes()).pairs == _top5(_reference(it, x)), name
    finally:
        board.stop()
