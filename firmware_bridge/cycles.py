"""Old path of ``firmware_bridge.firmware.cycles``: kept in release 0.2, removed in 0.3.0.

Import ``firmware_bridge.firmware.cycles`` instead; docs/architecture.md lists every old path.
This module is that module under its old name (the same object, so attributes set on either are
seen by both).
"""

import sys

from firmware_bridge.firmware import cycles as _module
from firmware_bridge.firmware.cycles import *  # noqa: F403

sys.modules[__name__] = _module
