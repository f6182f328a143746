"""Arguments and output helpers shared by subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


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


def add_data(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        metavar="SOURCE",
        default=None,
        help="fashion-mnist (default, from the Debian package dataset-fashion-mnist), a folder "
        "of IDX files, an image-folder tree (one sub-folder per class) or a .npz with x, y",
    )
    g.add_argument("--seed", type=int, default=0, help="seed for splits and training (default 0)")
    g.add_argument("--val-fraction", type=float, default=0.1, help="validation share (default 0.1)")


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
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text(text)
    print(table)
    print(f"(JSON written to {target})")


def _default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
