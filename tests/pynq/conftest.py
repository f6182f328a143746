"""tests/pynq/inner runs inside .venv-pynq (pynq pins numpy<2); the main suite only spawns it.

``tests/`` is on sys.path during a run, so this folder itself is importable as a namespace
package named ``pynq``: only a spec with an origin (a real ``pynq/__init__.py``) counts.
"""

from __future__ import annotations

import importlib.util


def has_real_pynq() -> bool:
    spec = importlib.util.find_spec("pynq")
    return spec is not None and spec.origin is not None


collect_ignore_glob = [] if has_real_pynq() else ["inner/*"]
