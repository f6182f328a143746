"""Old path of ``firmware_bridge.protocol.samples``: kept in release 0.2, removed in 0.3.0.

Import ``firmware_bridge.protocol.samples`` instead; docs/architecture.md lists every old path.
This module is that module under its old name (the same object, so attributes set on either are
seen by both).
"""

import sys

from firmware_bridge.protocol import samples as _module
from firmware_bridge.protocol.samples import *  # noqa: F403

sys.modules[__name__] = _module
