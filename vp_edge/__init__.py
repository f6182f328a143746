"""vp-edge: variant parallelism for embedded boards.

``import vp_edge`` needs numpy only; TensorFlow (training, conversion) and the
board runtimes are imported by the modules that use them.
"""

__version__ = "0.1.0"
