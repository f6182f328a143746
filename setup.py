"""Builds the portable C inference engine as a shared library inside ``firmware_bridge.engine``.

Metadata lives in pyproject.toml; this file only adds the C build, so ``pip install -e .`` and
``pip install .`` compile it. The library is loaded with ctypes (firmware_bridge/engine/),
not imported as a Python module.
"""

from setuptools import Extension, setup

ENGINE = "firmware_bridge/engine/c"

setup(
    ext_modules=[
        Extension(
            "firmware_bridge.engine._vp_engine",
            sources=[
                f"{ENGINE}/{n}.c"
                for n in (
                    "vp_engine",
                    "vp_engine_ops",
                    "vp_kernels",
                    "vp_conv",
                    "vp_conv_dsp",
                    "vp_conv_host",
                    "vp_im2col",
                    "vp_pyshim",
                )
            ],
            include_dirs=[ENGINE],
            extra_compile_args=["-std=c99", "-O3", "-fwrapv", "-Wall"],
            py_limited_api=False,
        )
    ]
)
