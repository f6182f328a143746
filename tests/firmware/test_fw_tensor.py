"""The firmware built with k = 0 (a tensor part: model-parallel, LCP, DISCO): HELLO says k = 0 and
INFER is answered with TENSOR frames whose reassembled bytes are the host C engine's whole int8
output, chunked to the board's max frame by the rule of ``split_tensor``; INFER_STAGE is still
refused. Host firmware at 1200 and at a 128-byte max frame; one run in QEMU (mps2-an386)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fw_helpers import BOARD_ID, KEY, cached_tflite, to_vpw

from firmware_bridge.engine import Engine
from firmware_bridge.firmware import qemu
from firmware_bridge.flash import flash
from firmware_bridge.protocol import Error, InferStage, MsgType, Status
from firmware_bridge.protocol.chunk import split_tensor
from firmware_bridge.protocol.session import BoardSession, TensorReply

SMALL_FRAME = 128  # HELLO (97 bytes with a model) still fits; 80 tensor bytes per TENSOR chunk


@pytest.fixture(scope="module")
def cut_vpw(pytestconfig: pytest.Config) -> bytes:
    """A conv part whose whole output is 392 int8 activations (1 chunk at 1200, 5 at 128)."""
    return to_vpw(cached_tflite(pytestconfig, "cut:1")["cut:1"], 3)


@pytest.fixture(scope="module")
def k0_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Host firmware built with FW_K=0: at the default max frame and at SMALL_FRAME."""
    if missing := qemu.missing_tools("host"):
        pytest.skip(f"host firmware needs {', '.join(missing)}")
    out = tmp_path_factory.mktemp("fw_k0")
    return {
        1200: qemu.build("host", build_dir=out / "f1200", defs="-DFW_K=0"),
        SMALL_FRAME: qemu.build(
            "host", build_dir=out / "small", defs=f"-DFW_K=0 -DVP_MAX_FRAME={SMALL_FRAME}"
        ),
    }


@pytest.fixture(scope="module")
def k0_flash(
    k0_builds: dict[int, Path],
    cut_vpw: bytes,
    epoch_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A host flash file serving ``cut_vpw`` (flashed once; every build uses the same layout)."""
    path = tmp_path_factory.mktemp("k0_flash") / "flash.bin"
    with qemu.start_host(path, board_id=BOARD_ID, key=KEY, elf=k0_builds[1200]) as b:
        flash(b.url, cut_vpw, board_id=BOARD_ID, key=KEY, epoch_file=epoch_file)
    return path


def assert_tensor_answers(
    url: str, vpw: bytes, epoch_file: Path, max_frame: int, n: int = 3, timeout: float = 0.5
) -> None:
    """HELLO says k = 0 and ``max_frame``; each INFER comes back as the engine's whole output, in
    as many TENSOR frames as ``split_tensor`` makes at that frame size."""
    engine = Engine(vpw)
    rng = np.random.default_rng(max_frame)
    with BoardSession(url, board_id=BOARD_ID, key=KEY, epoch_file=epoch_file, timeout=timeout) as s:
        hello = s.hello()
        assert (hello.k, hello.max_frame) == (0, max_frame)
        assert hello.num_classes == engine.info["output_size"]
        for _ in range(n):
            x = rng.integers(-128, 128, engine.info["input_size"], dtype=np.int8)
            want = engine.run(x).ravel().astype(np.int8).tobytes()
            r = s.infer_tensor(x.tobytes())
            assert isinstance(r, TensorReply), r
            assert r.data == want
            assert r.chunks == len(split_tensor(want, 0, max_frame=max_frame))


def test_k0_host_answers_whole_output_in_one_chunk(
    k0_builds, k0_flash, cut_vpw, epoch_file, tmp_path
) -> None:
    path = tmp_path / "flash.bin"
    shutil.copy(k0_flash, path)
    with qemu.start_host(path, board_id=BOARD_ID, key=KEY, elf=k0_builds[1200]) as b:
        assert_tensor_answers(b.url, cut_vpw, epoch_file, 1200)
        with BoardSession(b.url, board_id=BOARD_ID, key=KEY, epoch_file=epoch_file) as s:
            s.hello()
            r = s.infer_tensor(b"\x01" * 10)
            assert isinstance(r, Error) and r.status == Status.BAD_INPUT_SIZE
            r = s.request(InferStage(1, 0, 1, 0, 3, b"\x01\x02\x03"), (Error,)).msg
            assert (r.status, r.detail) == (Status.UNSUPPORTED, MsgType.INFER_STAGE)


def test_k0_host_small_frame_splits_output(
    k0_builds, k0_flash, cut_vpw, epoch_file, tmp_path
) -> None:
    assert len(split_tensor(bytes(392), 0, max_frame=SMALL_FRAME)) == 5  # several chunks
    path = tmp_path / "flash.bin"
    shutil.copy(k0_flash, path)
    with qemu.start_host(path, board_id=BOARD_ID, key=KEY, elf=k0_builds[SMALL_FRAME]) as b:
        assert_tensor_answers(b.url, cut_vpw, epoch_file, SMALL_FRAME)


def test_k0_qemu_cortex_m4_answers_tensor(k0_flash, cut_vpw, epoch_file, tmp_path) -> None:
    if missing := qemu.missing_tools("mps2-an386"):
        pytest.skip(
            f"QEMU firmware tests need {', '.join(missing)} "
            "(scripts/setup.d/20-toolchains.sh installs them)"
        )
    elf = qemu.build("mps2-an386", build_dir=tmp_path / "build", defs="-DFW_K=0")
    path = tmp_path / "qflash.bin"
    shutil.copy(k0_flash, path)  # the host and mps2 targets share the storage layout
    with qemu.start_qemu(path, board_id=BOARD_ID, key=KEY, elf=elf) as b:
        # QEMU's pty backend notices a new client only on its ~1 s poll: allow for it.
        assert_tensor_answers(b.url, cut_vpw, epoch_file, 1200, n=2, timeout=1.0)
