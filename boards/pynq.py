"""The PYNQ board: the vp_top overlay driven through the real ``pynq`` API, and its daemon.

``PynqRunner`` loads the overlay (``pynq.Overlay`` with the .bit and its .hwh), puts the .vpw,
input, output and arena in ``pynq.allocate`` buffers, programs their physical addresses into
the IP's registers once (docs/vpw.md, offsets taken from the .hwh) and per inference
writes the input, flushes, sets ``ap_start``, polls ``ap_done``, invalidates and reads the
output and ``status``. The same code runs on a PYNQ-Z2 and, with ``simulate=True``, against
``boards.pynq_sim`` (the C engine behind a simulated ``pynq.Device``).

``pynq`` is imported only when a runner is built: it lives on the board image or in
``.venv-pynq`` (it pins numpy<2, so it cannot share the main environment with TensorFlow).
Registration, one lazily imported entry in each registry::

    "pynq": "boards.pynq:PynqRunner"    # RUNNERS, boards/runners.py
    "pynq": "boards.pynq:PynqBoard"     # BOARDS, boards/registry.py
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from boards.errors import BoardError
from boards.pynq_overlay import AP_DONE, AP_START, IP_NAME, register_offsets, write_overlay
from boards.pynq_rtl import is_rtl_map
from boards.registry import BoardAdapter
from boards.runners import Runner
from firmware_bridge import BoardKind
from firmware_bridge.errors import KeyFileError
from firmware_bridge.protocol.keys import read_key

ROOT = Path(__file__).resolve().parent.parent
#: the environment that has pynq next to vp-edge's runtime (scripts/setup.d/40-pynq-venv.sh)
PYNQ_VENV = ROOT / ".venv-pynq"


def import_pynq() -> Any:
    """``import pynq``, or a BoardError saying where pynq comes from."""
    why = "not installed"
    try:
        import pynq

        if getattr(pynq, "Overlay", None) is not None:
            return pynq
        why = f"'pynq' resolves to {list(pynq.__path__)}, not the PYNQ package"  # a folder
    except ImportError as e:
        why = str(e)
    raise BoardError(
        f"the PYNQ runner needs the 'pynq' package ({why}); it ships with the PYNQ board "
        f"image, and on a host 'make setup' builds {PYNQ_VENV} with it"
    )


def _fill_clock_frequencies(overlay: Any) -> None:
    """pynq 4.0 reads a Zynq-7000 PL clock's rate from a parameter only Zynq UltraScale+ .hwh
    files have, leaves it None, and ``download`` then fails in ``Clocks.set_pl_clk``; take the
    rate from the PS7's own ``PCW_*FPGA<i>_PERIPHERAL_FREQMHZ`` parameters instead."""
    ps = getattr(overlay.parser, "ps_name", None)
    params = overlay.ip_dict.get(ps, {}).get("parameters", {}) if ps else {}
    for i, clock in overlay.clock_dict.items():
        if clock.get("enable") and clock.get("frequency") is None:
            for name in (f"PCW_ACT_FPGA{i}_PERIPHERAL_FREQMHZ", f"PCW_FPGA{i}_PERIPHERAL_FREQMHZ"):
                if params.get(name):
                    clock["frequency"] = float(params[name])
                    break


def _find_ip(overlay: Any, name: str | None) -> tuple[str, dict]:
    """The vp_top IP: by ``name``, or the only IP whose VLNV name is ``vp_top``."""
    ips = {
        k: v
        for k, v in overlay.ip_dict.items()
        if str(v.get("type", "")).split(":")[2:3] == [IP_NAME]
    }
    if name is not None:
        if name not in overlay.ip_dict:
            raise BoardError(f"overlay has no IP {name!r}; it has {', '.join(overlay.ip_dict)}")
        return name, overlay.ip_dict[name]
    if len(ips) != 1:
        raise BoardError(
            f"expected one {IP_NAME} IP in the overlay, found {sorted(ips) or 0}; pass ip=NAME"
        )
    return next(iter(ips.items()))


class PynqRunner(Runner):
    """A .vpw on the vp_top fabric engine of a PYNQ board (or its simulation)."""

    name = "pynq"
    artefact = ".vpw"

    def __init__(
        self,
        model: bytes,
        overlay: str | Path | None = None,
        *,
        simulate: bool = False,
        ip: str | None = None,
        download: bool = True,
        timeout_s: float = 5.0,
        busy_reads: int = 1,
        fabric: str | None = None,
        **options: object,
    ) -> None:
        super().__init__(model)
        from converters.vpw_format import read_vpw
        from firmware_bridge.engine import STATUS

        self._status_names = STATUS
        meta = read_vpw(self.model)  # a corrupt file fails here, not on the fabric
        h = meta.header
        self.input_shape = tuple(int(s) for s in meta.input_shape[1:])
        self.output_size, self.timeout_s = int(h["out_size"]), timeout_s
        pynq = import_pynq()
        device = None
        if simulate:
            from boards.pynq_sim import SimulatedPynqDevice, install

            device = install(SimulatedPynqDevice(busy_reads=busy_reads, fabric=fabric))
            if overlay is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="vp-pynq-sim-")
                overlay = write_overlay(Path(self._tmp.name), fabric=device.fabric)
        if overlay is None:
            raise BoardError("the PYNQ runner needs overlay=PATH to the vp_top .bit (with .hwh)")
        bit = Path(overlay)
        if not bit.with_suffix(".hwh").exists():
            raise BoardError(f"{bit.with_suffix('.hwh')} is missing; copy it next to the .bit")
        self.overlay = pynq.Overlay(str(bit.resolve()), download=False, device=device)
        if download:
            _fill_clock_frequencies(self.overlay)
            self.overlay.download()
        self.device = self.overlay.device
        self.ip_name, desc = _find_ip(self.overlay, ip)
        self.regs = register_offsets(desc.get("registers"))
        self.ip = self.overlay
        for part in self.ip_name.split("/"):
            self.ip = getattr(self.ip, part)
        self.host: Any = None
        self._in_size = int(h["in_size"])
        if is_rtl_map(desc.get("registers") or {}):
            self._setup_rtl(pynq)
        else:
            self._setup_buffers(pynq, int(h["in_size"]), int(h["arena_size"]))

    def _setup_rtl(self, pynq: Any) -> None:
        """The RTL overlay (fpga/): one buffer holds the model's image and its activations; the
        IP's AXI master reads the model into its BRAMs once (fpga/host.py)."""
        from firmware_bridge.engine import Engine
        from fpga.host import OverlayHost, buffer_bytes
        from fpga.program import read_program

        program = read_program(self.model)
        size = buffer_bytes(program)
        self.rtl_buf = pynq.allocate((size,), dtype=np.uint8, target=self.device)
        self.host = OverlayHost(program, self.ip, self.rtl_buf, self.rtl_buf.device_address)
        self.host.load_model()
        self._engine: Any = Engine(self.model) if program.head or program.tail else None

    def _run_rtl(self, x: np.ndarray) -> np.ndarray:
        """Head layers on the PS, the overlay, tail layers on the PS; ``compute_us`` from the
        overlay's own cycle counter (CYCLES) at the design clock."""
        from fpga.config import DEFAULT

        p = self.host.program
        if p.head:
            x = self._engine.run_head(x.reshape(self.input_shape), len(p.head))
        y, cycles = self.host.run(x)
        if p.tail:
            y = self._engine.run_tail(p.tail[0], p.tail_offset, y)
        self.compute_us = cycles / DEFAULT.clock_mhz
        return np.asarray(y, np.int8).reshape(-1)

    def _setup_buffers(self, pynq: Any, in_size: int, arena_size: int) -> None:
        """Allocate once and program the addresses once: HLS keeps them between starts."""
        alloc = lambda n, dt: pynq.allocate((max(n, 8),), dtype=dt, target=self.device)  # noqa: E731
        self.vpw_buf = alloc(len(self.model), np.uint8)
        self.vpw_buf[: len(self.model)] = np.frombuffer(self.model, np.uint8)
        self.vpw_buf.flush()
        self.in_buf = alloc(in_size, np.int8)
        self.out_buf = alloc(self.output_size, np.int8)
        self.arena_buf = alloc(arena_size, np.uint8)
        self._in_size = in_size
        for name, buf in (
            ("vpw", self.vpw_buf),
            ("in_r", self.in_buf),
            ("out_r", self.out_buf),
            ("arena", self.arena_buf),
        ):
            addr = int(buf.physical_address)
            self.ip.write(self.regs[f"{name}_1"], addr & 0xFFFF_FFFF)
            self.ip.write(self.regs[f"{name}_2"], addr >> 32)
        self.ip.write(self.regs["vpw_len"], len(self.model))
        self.ip.write(self.regs["arena_len"], int(self.arena_buf.nbytes))

    def run(self, x: np.ndarray) -> np.ndarray:
        """One inference on the fabric; the int8 output as a flat vector."""
        x = np.asarray(x, np.int8).reshape(-1)
        if x.size != self._in_size:
            raise BoardError(f"input has {x.size} values, the model takes {self._in_size}")
        if self.host is not None:
            return self._run_rtl(x)
        self.in_buf[: x.size] = x
        self.in_buf.flush()
        self.ip.write(self.regs["CTRL"], AP_START)
        deadline = time.monotonic() + self.timeout_s
        while not self.ip.read(self.regs["CTRL"]) & AP_DONE:
            if time.monotonic() > deadline:
                raise BoardError(f"vp_top did not finish within {self.timeout_s} s")
        status = int(np.int32(np.uint32(self.ip.read(self.regs["status"]))))
        if status != 0:
            why = self._status_names.get(status, "unknown status")
            raise BoardError(f"vp_top reports status {status} ({why})")
        self.out_buf.invalidate()
        # the simulated overlay's own time (cycles at FCLK0) where it has one, else host time
        self.compute_us = getattr(self.device, "fabric_us", None)
        return np.array(self.out_buf[: self.output_size], dtype=np.int8)

    def close(self) -> None:
        """Give the contiguous buffers back (a board has a few MB of CMA)."""
        if self.host is not None:
            self.rtl_buf.freebuffer()
            return
        for buf in (self.vpw_buf, self.in_buf, self.out_buf, self.arena_buf):
            buf.freebuffer()


class PynqBoard(BoardAdapter):
    kind = "pynq"
    description = "PYNQ-Z2: the vp_top overlay (the C engine via HLS) behind a UDP daemon"
    hello_kind = BoardKind.PYNQ
    schemes = ("udp", "mqtt", "mqtts")
    runner = "pynq"
    default_profile = "pynq-z2"


def serve(
    model: Path,
    listen: str,
    *,
    overlay: Path | None = None,
    simulate: bool = False,
    board_id: int = 1,
    key: bytes | None = None,
    k: int = 5,
    variant: str | None = None,
    heartbeat_s: float = 1.0,
    model_dir: Path | None = None,
) -> None:
    """Run the PYNQ board daemon: the shared board server (boards.server) with PynqRunner.

    With ``model_dir`` the board accepts ``vp-edge flash`` (verified LOAD session).
    """
    from boards.server import BoardConfig, BoardServer, mount_loader
    from converters.vpw_format import read_vpw
    from firmware_bridge.transport import for_board, open_link

    blob = Path(model).read_bytes()
    h = read_vpw(blob).header

    def make_runner(model: bytes) -> PynqRunner:
        r = PynqRunner(model, overlay, simulate=simulate)
        if simulate:  # the RTL fabric loads a model's memories on its first start: not in a request
            r.run(np.zeros(r.input_bytes, np.int8))
        return r

    runner = make_runner(blob)
    cfg = BoardConfig(
        board_id=board_id,
        variant=variant or Path(model).stem,
        k=k,
        key=key,
        kind=BoardKind.PYNQ,
        model_sha256=hashlib.sha256(blob).digest(),
        score_scale=float(h["out_scale"]),
        score_zero_point=int(h["out_zp"]),
        heartbeat_s=heartbeat_s,
    )
    server = BoardServer(open_link(for_board(listen, board_id), server=True), runner, cfg)
    if model_dir is not None:
        mount_loader(server, model_dir, make_runner)
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        runner.close()


def emulator_command(
    model: str | Path,
    listen: str,
    board_id: int,
    key_file: str | Path | None,
    *,
    k: int = 5,
    python: str | Path | None = None,
    model_dir: str | Path | None = None,
) -> list[str]:
    """argv of an emulated PYNQ board: this daemon with the simulated device, in .venv-pynq."""
    py = python or os.environ.get("VP_EDGE_PYNQ_PYTHON") or PYNQ_VENV / "bin" / "python"
    argv = [
        str(py),
        "-m",
        "boards.pynq",
        "serve",
        "--simulate",
        "--model",
        str(model),
        "--listen",
        listen,
        "--board-id",
        str(board_id),
        "-k",
        str(k),
    ]
    argv += ["--model-dir", str(model_dir)] if model_dir is not None else []
    return argv + (["--key-file", str(key_file)] if key_file is not None else ["--insecure"])


def main(argv: list[str] | None = None) -> int:
    """``python -m boards.pynq serve ...``: the daemon without vp_edge's CLI (board image)."""
    p = argparse.ArgumentParser(prog="python -m boards.pynq", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="serve one .vpw over UDP with the vp_top overlay")
    s.add_argument("--model", required=True, type=Path, help="the variant's .vpw")
    s.add_argument("--overlay", type=Path, help="vp.bit (vp.hwh next to it)")
    s.add_argument("--simulate", action="store_true", help="simulated PYNQ-Z2 (no board)")
    s.add_argument("--listen", default="udp://0.0.0.0:5600")
    s.add_argument("--board-id", type=int, default=1)
    s.add_argument("-k", type=int, default=5, help="classes per RESULT (0: answer TENSOR)")
    s.add_argument("--variant", help="name announced in HELLO (default: the file's stem)")
    s.add_argument("--model-dir", type=Path, help="accept 'vp-edge flash' into slots kept here")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument(
        "--key-file",
        type=Path,
        help="this board's own key (hex or raw bytes, >= 16; 'vp-edge keys derive')",
    )
    g.add_argument("--insecure", action="store_true", help="no key (bring-up and tests only)")
    a = p.parse_args(argv)
    try:
        key = None if a.key_file is None else read_key(a.key_file, f"--key-file {a.key_file}")
    except KeyFileError as e:
        print(f"vp-edge pynq board: {e}", file=sys.stderr)
        return 2
    try:
        serve(
            a.model,
            a.listen,
            overlay=a.overlay,
            simulate=a.simulate,
            board_id=a.board_id,
            key=key,
            k=a.k,
            variant=a.variant,
            model_dir=a.model_dir,
        )
    except (BoardError, OSError) as e:
        print(f"vp-edge pynq board: {e}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
