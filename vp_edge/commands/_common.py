"""Arguments and output helpers shared by subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vp_edge.checks import make_dir as make_dir  # re-exported: the commands' one import
from vp_edge.checks import number_problem
from vp_edge.checks import read_model as read_model  # re-exported, as make_dir


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--json",
        metavar="PATH",
        nargs="?",
        const="-",
        default=None,
        help="write the result as JSON to PATH ('-' or no value: standard output, "
        "and the human table goes to standard error)",
    )


def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer in [low, high] (usage error, exit 2, otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if problem := number_problem(value, low, high):
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = "integer"
    return parse


def float_range(
    low: float | None = None, high: float | None = None, *, low_open: bool = False
) -> Callable[[str], float]:
    """An argparse ``type``: a finite number in [low, high], or (low, high] with ``low_open``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if problem := number_problem(value, low, high, low_open=low_open):
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = "number"
    return parse


def host_port(text: str) -> str:
    """An argparse ``type``: HOST:PORT with a port in 0..65535 (0: any free port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(
            f"expected HOST:PORT with a port in 0..65535, e.g. 127.0.0.1:9108, got {text!r}"
        )
    return text


#: shared argument types: counts of things, seconds, board ids, k
#: (a count past 2**31 - 1 is a typo, and overflows C ints and numpy seeds further down)
POSITIVE = int_range(1, 2**31 - 1)
NON_NEGATIVE = int_range(0, 2**31 - 1)
EPOCHS = int_range(1, 10_000)
BAUD = int_range(50, 12_000_000)  # UART rates: 50 baud to 12 Mbaud (FTDI's highest)
SECONDS = float_range(0, 24 * 3600, low_open=True)
BOARD_ID = int_range(0, 0xFFFF)
K = int_range(1, 255)
BOARD_K = int_range(0, 255)  # a board's k: 0 answers TENSOR (a part's whole output)


def nonempty_path(text: str) -> Path:
    """An argparse ``type``: a path, refusing '' (which ``Path`` would turn into '.')."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a folder, got an empty string")
    return Path(text)


def add_data(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        metavar="SOURCE",
        default=None,
        help="fashion-mnist (default, from the Debian package dataset-fashion-mnist), a folder "
        "of IDX files, an image-folder tree (one sub-folder per class) or a .npz with x, y",
    )
    g.add_argument(
        "--seed", type=NON_NEGATIVE, default=0, help="seed for splits and training (default 0)"
    )
    g.add_argument(
        "--val-fraction",
        type=float_range(0, 0.9),
        default=0.1,
        help="validation share (default 0.1)",
    )


def data_args(args: argparse.Namespace) -> dict:
    return {"source": args.data, "seed": args.seed, "val_fraction": args.val_fraction}


def emit(args: argparse.Namespace, result: Any, table: str) -> None:
    """The table for people, JSON for machines, as --json asks."""
    target = getattr(args, "json", None)
    if target is None:
        print(table)
        return
    text = json.dumps(result, indent=2, default=_default) + "\n"
    if target == "-":
        print(table, file=sys.stderr)
        sys.stdout.write(text)
        return
    from firmware_bridge.files import write_file

    Path(target).parent.mkdir(parents=True, exist_ok=True)
    write_file(target, text)
    print(table)
    print(f"(JSON written to {target})")


def _default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
