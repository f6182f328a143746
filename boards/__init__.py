"""Boards: registry of board kinds, profiles, links, model runners, the board server and emulation.

``BOARDS`` maps a kind ("linux", "mcu", ...) to its gateway-side adapter; ``PROFILES`` holds
board facts (RAM, flash, clock, link); ``RUNNERS`` maps a runtime name to a model runner.
Heavy imports (LiteRT, tflite-micro, pyserial) happen only when a board or link is opened.
"""
