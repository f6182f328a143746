"""The PYNQ adapter's real pynq calls against the simulated PYNQ-Z2, checked against the engine."""

from __future__ import annotations

import numpy as np
import pynq
import pytest

from boards.pynq import PynqRunner
from boards.pynq_overlay import AP_DONE, AP_IDLE, AP_START, REGISTERS, bit_header
from boards.pynq_sim import SimBusError, SimulatedPynqDevice, install
from converters.vpw_format import read_vpw
from firmware_bridge.engine import Engine
from vp_edge.errors import BoardError

N_INPUTS = 64


def test_value_for_value_against_host_engine(vpw: bytes, counts: dict) -> None:
    runner, engine = PynqRunner(vpw, simulate=True), Engine(vpw)
    rng = np.random.default_rng(len(vpw))
    xs = [rng.integers(-128, 128, runner.input_bytes, dtype=np.int8) for _ in range(N_INPUTS)]
    meta = read_vpw(vpw)
    if meta.golden_input is not None:
        xs.append(meta.golden_input.reshape(-1))
    for x in xs:
        np.testing.assert_array_equal(runner.run(x), engine.run(x).reshape(-1))
    assert runner.device.runs == len(xs)  # every answer came through the simulated fabric
    counts["values"] = counts.get("values", 0) + len(xs) * runner.output_size
    counts["inferences"] = counts.get("inferences", 0) + len(xs)
    counts["models"] = counts.get("models", 0) + 1


def test_overlay_is_parsed_by_pynq(tiny: bytes) -> None:
    r = PynqRunner(tiny, simulate=True)
    desc = r.overlay.ip_dict["vp_top_0"]
    assert desc["phys_addr"] == 0x4000_0000 and desc["type"].endswith(":vp_top:1.0")
    assert {n: desc["registers"][n]["address_offset"] for n, _, _ in REGISTERS} == {
        n: off for n, off, _ in REGISTERS
    }
    assert isinstance(r.ip, pynq.overlay.DefaultIP) and r.overlay.is_loaded()
    assert r.ip.register_map.CTRL.address == 0x00  # pynq's RegisterMap from the .hwh
    assert pynq.Clocks.fclk0_mhz == pytest.approx(100.0)  # set through the simulated SLCR


@pytest.mark.skipif(pynq.__version__ != "4.0.0", reason="documents pynq 4.0.0 behaviour")
def test_plain_overlay_download_fails_without_clock_fix(tmp_path) -> None:
    """Why PynqRunner fills the PL clock rate: pynq 4.0.0 leaves it None for a Zynq-7000."""
    from boards.pynq_overlay import write_overlay

    dev = install()
    with pytest.raises(TypeError):
        pynq.Overlay(str(write_overlay(tmp_path)), device=dev)


def test_buffers_are_cacheable_like_on_zynq(tiny: bytes) -> None:
    """Without flush the fabric sees stale input: the simulation models the cache."""
    r, e = PynqRunner(tiny, simulate=True), Engine(tiny)
    x = np.random.default_rng(3).integers(-128, 128, r.input_bytes, dtype=np.int8)
    r.in_buf[:] = x  # no flush
    r.ip.write(0x00, AP_START)
    while not r.ip.read(0x00) & AP_DONE:
        pass
    r.out_buf.invalidate()
    stale = e.run(np.zeros(r.input_bytes, np.int8)).reshape(-1)
    np.testing.assert_array_equal(np.asarray(r.out_buf), stale)
    np.testing.assert_array_equal(r.run(x), e.run(x).reshape(-1))


def test_polls_until_done(tiny: bytes) -> None:
    r = PynqRunner(tiny, simulate=True, busy_reads=5)
    x = np.zeros(r.input_bytes, np.int8)
    np.testing.assert_array_equal(r.run(x), Engine(tiny).run(x).reshape(-1))
    assert r.ip.read(0x00) & AP_IDLE and not r.ip.read(0x00) & AP_DONE  # done cleared on read


def test_engine_status_becomes_board_error(tiny: bytes) -> None:
    r = PynqRunner(tiny, simulate=True)
    r.vpw_buf[:4] = np.frombuffer(b"XXXX", np.uint8)
    r.vpw_buf.flush()
    with pytest.raises(BoardError, match="status -2"):
        r.run(np.zeros(r.input_bytes, np.int8))


def test_wrong_input_size(tiny: bytes) -> None:
    r = PynqRunner(tiny, simulate=True)
    with pytest.raises(BoardError, match="input has 3 values"):
        r.run(np.zeros(3, np.int8))


def test_not_downloaded_is_a_bus_error(tiny: bytes) -> None:
    dev = install(SimulatedPynqDevice())
    mmio = pynq.MMIO(0x4000_0000, 0x100, device=dev)
    with pytest.raises(SimBusError):
        mmio.write(0x00, AP_START)


def test_wrong_part_is_refused(tiny: bytes, tmp_path) -> None:
    from boards.pynq_overlay import hwh_text

    (tmp_path / "vp.bit").write_bytes(bit_header("vp", part="7z010clg400"))
    (tmp_path / "vp.hwh").write_text(hwh_text())
    with pytest.raises(BoardError, match="7z010"):
        PynqRunner(tiny, tmp_path / "vp.bit", simulate=True)


def test_missing_hwh_is_explained(tiny: bytes, tmp_path) -> None:
    (tmp_path / "vp.bit").write_bytes(bit_header("vp"))
    with pytest.raises(BoardError, match="vp.hwh is missing"):
        PynqRunner(tiny, tmp_path / "vp.bit", simulate=True)
