"""`vp-edge firmware load` through the GDB remote protocol: the STM32F405 image written into a
halted QEMU netduinoplus2 (its gdbstub stands in for a probe's gdbserver; no probe here), the
board reset, and its first HELLO on the UART. pyOCD/OpenOCD command lines are checked as data:
they are the documented ones and untested on hardware."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest
from fw_helpers import BOARD_ID, KEY, MASTER

from firmware_bridge.firmware import qemu
from firmware_bridge.firmware.load import LoadError, elf_segments, probe_command
from firmware_bridge.protocol import Hello
from firmware_bridge.protocol.session import BoardSession
from vp_edge.cli import main


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_load_over_gdb_then_hello_then_provision(tmp_path) -> None:
    """Load the ELF (blank flash: an insecure board 1 says HELLO), then write the provisioning
    record the same way: after the reset the board answers only under its key, as BOARD_ID."""
    if missing := qemu.missing_tools("stm32f405"):
        pytest.skip(f"needs {', '.join(missing)}")
    elf = qemu.build("stm32f405")
    port = _free_port()
    proc = subprocess.Popen(
        [
            "qemu-system-arm",
            "-M",
            "netduinoplus2",
            "-display",
            "none",
            "-monitor",
            "none",
            "-serial",
            "pty",
            "-S",
            "-gdb",
            f"tcp:127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url, _ = qemu._wait_pty(proc, proc.stdout, r"redirected to (\S+)", 30.0)
        with BoardSession(url, board_id=1, key=None, epoch_file=tmp_path / "ep") as s:
            out = tmp_path / "load.json"
            rc = main(
                [
                    "firmware",
                    "load",
                    "--target",
                    "stm32f405",
                    "--probe",
                    f"gdb://127.0.0.1:{port}",
                    "--elf",
                    str(elf),
                    "--json",
                    str(out),
                ]
            )
            assert rc == 0
            rep = json.loads(out.read_text())
            assert [a for a, _ in rep["segments"]] == [a for a, _ in elf_segments(elf)]
            boot = s.wait(0, (Hello,), 10.0)  # sent by the freshly reset board, unasked
            assert boot is not None and boot.msg.variant == "none"  # blank flash: no model
            assert s.hello().board_kind == boot.msg.board_kind
        key_file = tmp_path / "deploy.key"  # the master key: provision derives board BOARD_ID's
        key_file.write_text(MASTER.hex() + "\n")
        with BoardSession(url, board_id=BOARD_ID, key=KEY, epoch_file=tmp_path / "ep") as s:
            rc = main(
                [
                    "firmware",
                    "provision",
                    "--target",
                    "stm32f405",
                    "--probe",
                    f"gdb://127.0.0.1:{port}",
                    "--board-id",
                    str(BOARD_ID),
                    "--key-file",
                    str(key_file),
                ]
            )
            assert rc == 0
            assert s.wait(0, (Hello,), 10.0) is not None  # keyed, as board BOARD_ID
            assert s.hello().board_kind == boot.msg.board_kind
    finally:
        proc.kill()
        proc.wait(10)


def test_probe_commands_are_the_documented_ones(tmp_path) -> None:
    elf = tmp_path / "vp_fw.elf"
    assert probe_command("stm32f446-nucleo", "openocd", elf) == [
        ["openocd", "-f", "board/st_nucleo_f4.cfg", "-c", f"program {elf} verify reset exit"]
    ]
    assert probe_command("stm32f446-nucleo", "pyocd", elf)[0] == [
        "pyocd",
        "load",
        "--target",
        "stm32f446retx",
        str(elf),
    ]
    with pytest.raises(LoadError, match="unknown probe"):
        probe_command("stm32f405", "jlink", elf)
    assert main(["firmware", "load", "--target", "stm32f405", "--elf", str(elf)]) == 2
