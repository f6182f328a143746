"""One module per ``vp-edge`` subcommand; each exposes ``register(subparsers)``."""
