"""Keep native libraries' log lines off the terminal unless the user asked for them (``-v``).

TensorFlow prints absl lines ("All log messages before absl::InitializeLog() ...", oneDNN
notices) at import, and the TFLite converter prints its quantiser's settings from C++: both
write to file descriptor 2 directly, before any Python logging setting applies. The CLI sets
``VP_EDGE_QUIET=1`` when not verbose; ``native_quiet()`` then points descriptor 2 at
/dev/null around such calls (a native crash inside one then shows no message of its own:
rerun with -v). Library users (no variable set) see everything as before.
A leaf module: converters, boards and the application may import it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

QUIET_ENV = "VP_EDGE_QUIET"


def quiet() -> bool:
    return os.environ.get(QUIET_ENV) == "1"


@contextlib.contextmanager
def native_quiet() -> Iterator[None]:
    """Descriptor 2 to /dev/null for the block when quiet; Python's own errors still propagate."""
    if not quiet():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow() -> None:
    """Import TensorFlow and Keras once, quietly when quiet (their import is what prints)."""
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_quiet():
        import keras  # noqa: F401
        import tensorflow as tf

    if quiet():
        tf.get_logger().setLevel("ERROR")
        with contextlib.suppress(ImportError):
            from absl import logging as absl_logging

            absl_logging.set_verbosity(absl_logging.ERROR)
