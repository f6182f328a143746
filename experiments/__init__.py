"""Experiments: what measures the product, beside its committed results (``bench/``).

``bench`` (``vp-edge bench``), ``demo`` (``vp-edge demo``), ``live`` and ``live_kinds`` (the
live check: emulated boards of every kind against the offline vote). The library never imports
this package: ``import vp_edge`` and the gateway load neither QEMU launchers nor the PYNQ
daemon; the CLI imports it only when those commands run.
"""
