"""The ``vp-edge`` command: one subcommand per public function.

Each subcommand lives in ``vp_edge/commands/<name>.py`` and exposes
``register(subparsers)`` (adds its parser and sets ``func``). ``main`` is the
only place where errors become messages and exit codes.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from vp_edge.errors import VpEdgeError

DESCRIPTION = """\
vp-edge: variant parallelism on small devices.

A family of lightweight CNN variants (differing in input resolution r, width
alpha and head width F) is trained together, converted to full int8, and
deployed one variant per board. Each board answers with its top-k classes
only; a gateway fuses the answers by weighted voting within a deadline, so
the ensemble keeps answering when boards fail.

Typical session:
  vp-edge train    --family fashion --out runs/a      # joint training + baseline
  vp-edge convert  --run runs/a                        # full-int8 .tflite + model cards
  vp-edge evaluate --run runs/a                        # per-variant, ensemble, m-of-N table
  vp-edge emulate  --deployment deploy.toml            # emulated boards
  vp-edge gateway  --deployment deploy.toml            # live voting
  vp-edge demo --quick                                 # all of the above, small budget
"""

EPILOG = """\
exit codes: 0 ok, 1 internal error, 2 usage or input error, 3 board/link error,
4 verification failed, 5 timeout, 130 interrupted.
Every reporting command takes --json. Run 'vp-edge COMMAND --help' for details.
"""

#: subcommand name -> module under vp_edge.commands (order = order in --help)
COMMANDS = (
    "family",
    "train",
    "convert",
    "evaluate",
    "demo",
    "boards",
    "board",
    "emulate",
    "gateway",
    "classify",
    "load",
    "bridge",
    "flash",
    "keys",
    "pack",
    "bench",
)


def _bridge_errors() -> tuple[type[BaseException], ...]:
    try:
        from firmware_bridge.errors import BridgeError
    except ImportError:
        return ()
    return (BridgeError,)


BridgeErrors = _bridge_errors()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vp-edge",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"vp_edge.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"vp_edge.commands.{name}":
                continue  # command not part of this build
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except VpEdgeError as e:
        print(f"vp-edge: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("vp-edge: interrupted", file=sys.stderr)
        return 130
    except BridgeErrors as e:  # the wire layer's errors (firmware_bridge has its own root)
        print(f"vp-edge: error: {e}", file=sys.stderr)
        return int(getattr(e, "exit_code", 3))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
