"""Experiments: what measures the product, beside its committed results (``bench/``).

``bench`` (``vp-edge bench``), ``demo`` (``vp-edge demo``), ``live`` and ``live_kinds`` (the
live check: emulated boards of every kind against the offline vote), ``fleet_demo``. The
library never imports this package: the two commands reach the CLI through the
``vp_edge.commands`` entry-point group (``commands/``, ``pyproject.toml``), so ``import
vp_edge`` and the gateway load neither QEMU launchers nor the PYNQ daemon.
"""
