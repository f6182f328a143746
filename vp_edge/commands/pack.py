"""``vp-edge pack``: a full-int8 .tflite -> packed .vpw for the C engine (MCU firmware, PYNQ)."""

from __future__ import annotations

import argparse

from vp_edge.commands._common import NON_NEGATIVE, POSITIVE, add_json, emit


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "pack",
        help="pack a full-int8 .tflite into a .vpw for the portable C engine",
        description="Write MODEL.vpw (packed int8 weights, per-channel requantisation, planned "
        "arena, and the golden self-test section boards check before activating a model) and "
        "print its summary. The C engine running it is bit-exact with LiteRT's "
        "reference kernels; --verify proves that on random inputs.",
    )
    p.add_argument("model", metavar="MODEL.tflite", help="full-int8 model (int8 input and output)")
    p.add_argument("-o", "--output", metavar="MODEL.vpw", help="default: MODEL with .vpw suffix")
    golden = p.add_mutually_exclusive_group()
    golden.add_argument(
        "--golden-from-random-seed",
        metavar="N",
        type=NON_NEGATIVE,
        default=0,
        help="the self-test section's input: random int8 values from seed N, with the expected "
        "output (default 0: the same .vpw 'vp-edge emulate' makes)",
    )
    golden.add_argument(
        "--no-golden",
        action="store_true",
        help="omit the self-test section (boards and 'vp-edge flash' refuse such a .vpw)",
    )
    p.add_argument(
        "--verify",
        metavar="N",
        type=NON_NEGATIVE,
        nargs="?",
        const=100,
        default=0,
        help="run N random inputs (default 100) through the engine and LiteRT BUILTIN_REF and "
        "report differing values (exit 4 if any)",
    )
    p.add_argument(
        "--stream-word-bits", type=POSITIVE, default=64, help="AXI stream word for weight rows (64)"
    )
    p.add_argument(
        "--target",
        choices=("generic", "cortex-m4", "cortex-m7"),
        default="generic",
        help="weight layout: generic (hosts, PYNQ; default) or cortex-m4/cortex-m7 (the MCU "
        "firmware refuses any other)",
    )
    add_json(p)
    p.set_defaults(func=run)


def _table(s: dict) -> str:
    ops = ", ".join(f"{k} x{v}" for k, v in s["ops"].items())
    lines = [
        f"wrote {s['output']}: {s['total_size']} bytes (tflite {s['tflite_bytes']}), "
        f"target {s['target_name']}",
        f"  layers   {s['n_layers']} ({ops})",
        f"  scratch  {s['arena_size']} bytes arena + {s['op_scratch_size']} op scratch",
        f"  input    {s['input_shape']} int8, scale {s['input_quant'][0]:.6g}, "
        f"zp {s['input_quant'][1]}",
        f"  output   {s['output_shape']} int8, scale {s['output_quant'][0]:.6g}, "
        f"zp {s['output_quant'][1]}",
        f"  golden   {'yes' if s['golden'] else 'no'}",
        f"  sha256   {s['sha256']} (the file's: flash, HELLO, devices --probe and the "
        "gateway's status page name the model by it)",
    ]
    v = s.get("verify")
    if v:
        bad = v["first_bad_layer"]
        lines.append(
            f"  verify   {v['differing']} of {v['values']} values differ from LiteRT "
            f"BUILTIN_REF ({v['inputs']} inputs)" + (f"; first bad layer {bad}" if bad else "")
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from vp_edge.pack_run import pack_exit_code, pack_model

    summary = pack_model(
        args.model,
        args.output,
        golden_seed=None if args.no_golden else args.golden_from_random_seed,
        verify=args.verify,
        stream_word_bits=args.stream_word_bits,
        target=args.target,
    )
    emit(args, summary, _table(summary))
    return pack_exit_code(summary)
