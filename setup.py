"""Builds the portable C inference engine as a shared library inside ``firmware_bridge.engine``.

Metadata lives in pyproject.toml; this file only adds the C build, so ``pip install -e .`` and
``pip install .`` compile it. The library is loaded with ctypes (firmware_bridge/engine/),
not imported as a Python module.
"""

from pathlib import Path

from setuptools import Extension, setup

ENGINE = "firmware_bridge/engine/c"

setup(
    ext_modules=[
        Extension(
            "firmware_bridge.engine._vp_engine",
            sources=sorted(str(p) for p in Path(ENGINE).glob("*.c")),  # engine + host shim
            include_dirs=[ENGINE],
            extra_compile_args=["-std=c99", "-O3", "-fwrapv", "-Wall"],
            py_limited_api=False,
        )
    ]
)
