"""The board firmware from the host's side: the target table (``targets``), building an image
(``build``, through ``c/Makefile``), putting it on a board through a probe or a GDB server
(``load``), running it as a process or in QEMU (``qemu``) and estimating Cortex-M4 cycles from
QEMU's trace (``cycles``). The firmware's C sources are in ``c/``: the portable core
(``fw_main.c``, ``fw_store.c``, ``fw_model.c``), the target interface ``fw.h`` and one folder per
target under ``c/target/``; it compiles in the protocol's C codec and the C engine unchanged.

Import the modules themselves (``from firmware_bridge.firmware import qemu``): this package
re-exports nothing, so ``firmware_bridge.firmware.build`` stays the module, not its function.
"""
