"""Converters: Keras -> full-int8 TFLite, TFLite -> packed .vpw, C arrays, model cards."""
