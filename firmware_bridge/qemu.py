"""Old path of ``firmware_bridge.firmware.qemu``: kept in release 0.2, removed in 0.3.0.

Import ``firmware_bridge.firmware.qemu`` instead; docs/architecture.md lists every old path.
This module is that module under its old name (the same object, so attributes set on either are
seen by both).
"""

import sys

from firmware_bridge.firmware import qemu as _module
from firmware_bridge.firmware.qemu import *  # noqa: F403

sys.modules[__name__] = _module
