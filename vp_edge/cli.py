"""The ``vp-edge`` command: one subcommand per public function.

Each subcommand lives in ``vp_edge/commands/<name>.py`` and exposes
``register(subparsers)`` (adds its parser and sets ``func``). ``main`` is the
only place where errors become messages and exit codes.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import textwrap
import traceback
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, NoReturn

from converters.quiet import QUIET_ENV
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
Every reporting command takes --json (errors then come as JSON on stdout too).
-v, before or after COMMAND, shows library log lines (TensorFlow, absl, converter).
Run 'vp-edge COMMAND --help' for details.
"""

#: subcommand name (``name:module`` where the module under vp_edge.commands is named otherwise),
#: in the order of --help; the commands that measure (``demo``, ``bench``) come from the
#: ``vp_edge.commands`` entry-point group (:data:`PLUGIN_GROUP`), so the library never imports
#: the experiments package
COMMANDS = (
    "family",
    "plan",
    "train",
    "convert",
    "evaluate",
    "boards",
    "board",
    "emulate",
    "gateway",
    "classify",
    "load:loadtest",
    "bridge",
    "flash",
    "rollout",
    "firmware",
    "overlay",
    "keys",
    "pack",
    "devices",
    "monitor",
    "benchmark",
)


PLUGIN_GROUP = "vp_edge.commands"


def _plugin_commands() -> list[Callable[[Any], None]]:
    """``register`` functions of the installed ``vp_edge.commands`` entry points, by name.

    A plugin whose package is missing (a board image without the experiments) is left out.
    """
    found = []
    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        try:
            found.append(ep.load())
        except ModuleNotFoundError as e:
            logging.getLogger(__name__).debug("command %s not loaded: %s", ep.name, e)
    return found


#: set by ``main`` when --json was given, so usage errors are JSON on stdout too
_json_errors = False


class HelpFormatter(argparse.HelpFormatter):
    """Keeps the author's line breaks (indented lines verbatim), wraps long prose lines, and
    appends each option's default unless its help already names one."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(
            indent + line
            if not line.strip() or line[0].isspace()
            else textwrap.fill(line, width, initial_indent=indent, subsequent_indent=indent)
            for line in text.splitlines()
        )

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or not action.option_strings
            or action.default in (None, False, True, argparse.SUPPRESS)
        ):
            return text
        return text + " (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """Every (sub)parser: the help formatter above, ``-v`` accepted after the subcommand too,
    and usage errors as one line (plus JSON on stdout under --json), exit code 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        if kwargs.get("prog", "").count(" "):  # a subcommand: the top level adds its own -v
            self.add_argument(
                "-v",
                "--verbose",
                dest="verbose_after",
                action="count",
                default=argparse.SUPPRESS,
                help="more log output (also -vv)",
            )

    def error(self, message: str) -> NoReturn:
        _fail(f"{self.prog}: error: {message} (see '{self.prog} --help')", 2, None)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    from vp_edge import __version__

    parser = Parser(prog="vp-edge", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more log output: -v shows library warnings, -vv debug",
    )
    parser.add_argument("--version", action="version", version=f"vp-edge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entry in COMMANDS:
        name = entry.rpartition(":")[2]
        try:
            module = importlib.import_module(f"vp_edge.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"vp_edge.commands.{name}":
                continue  # command not part of this build
            raise
        module.register(sub)
    for register in _plugin_commands():
        register(sub)
    return parser


def _fail(message: str, code: int, args: argparse.Namespace | None) -> int:
    """One line on stderr; under --json also ``{"ok": false, "error", "exit_code"}`` on stdout."""
    print(message, file=sys.stderr)
    if _json_errors or getattr(args, "json", None) is not None:
        sys.stdout.write(json.dumps({"ok": False, "error": message, "exit_code": code}) + "\n")
        sys.stdout.flush()
    return code


def _quiet_libraries(verbose: int) -> None:
    """Without -v, TensorFlow, absl and the converter keep their log lines to themselves."""
    os.environ.setdefault(
        "TF_CPP_MIN_LOG_LEVEL", "3" if verbose == 0 else "0" if verbose > 1 else "1"
    )
    os.environ[QUIET_ENV] = "1" if verbose == 0 else "0"
    for name in ("tensorflow", "absl", "h5py", "matplotlib", "PIL"):
        logging.getLogger(name).setLevel(logging.ERROR if verbose == 0 else logging.NOTSET)


def main(argv: list[str] | None = None) -> int:
    global _json_errors
    argv = list(sys.argv[1:] if argv is None else argv)
    _json_errors = any(a == "--json" or a.startswith("--json=") for a in argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    verbose = args.verbose + getattr(args, "verbose_after", 0)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    _quiet_libraries(verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except VpEdgeError as e:  # every layer's errors, firmware_bridge's BridgeError included
        return _fail(f"vp-edge: error: {e}", e.exit_code, args)
    except KeyboardInterrupt:
        return _fail("vp-edge: interrupted", 130, args)
    except TimeoutError as e:
        return _fail(f"vp-edge: error: timed out: {e}", 5, args)
    except OSError as e:  # a path the user named (exit 2), else the system or a link (exit 3)
        if e.filename:
            return _fail(f"vp-edge: error: {e.filename}: {e.strerror or e}", 2, args)
        return _fail(f"vp-edge: error: {e.strerror or e}", 3, args)
    except Exception as e:
        if verbose:
            traceback.print_exc()
        return _fail(
            f"vp-edge: internal error: {type(e).__name__}: {e} (rerun with -v for the traceback)",
            1,
            args,
        )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
