"""Converters: Keras -> full-int8 TFLite with model cards, TFLite -> packed ``.vpw`` (the C
engine's format, ``docs/vpw.md``), the one ``.tflite`` reader, the interpreters every layer
builds from, and the run directory's layout (``rundir.RunDir``: boards and the application read
runs through it)."""
