"""The ``vp-edge`` subcommands that measure rather than serve: ``demo`` and ``bench``.

They register through the ``vp_edge.commands`` entry-point group (``pyproject.toml``), so the
CLI lists them without the library importing this package.
"""
