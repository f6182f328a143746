"""``vp-edge family``: list presets, show a family (as a table or as an editable JSON file)."""

from __future__ import annotations

import argparse

from vp_edge.commands._common import add_json, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "family",
        help="list presets or show a variant family",
        description="Show a variant family: its shared raw input, classes and the (r, alpha, F) "
        "of every variant with its reference vote weight. 'vp-edge family show fashion --json "
        "my.json' writes an editable family file for 'vp-edge train --family my.json'.",
    )
    fs = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    lp = fs.add_parser("list", help="the presets")
    add_json(lp)
    lp.set_defaults(func=_list)
    s = fs.add_parser(
        "show",
        help="one family (preset name or .json/.toml file)",
        description="Show a family. With --costs, also what each variant will cost before any "
        "training: parameters, MACs, .tflite and .vpw bytes and arenas, from an untrained "
        "conversion (the same figures 'vp-edge convert' and 'vp-edge pack' give after "
        "training), and which board profiles it fits. Needs TensorFlow; about 10-40 s a "
        "variant on 2 cores.",
    )
    s.add_argument("family")
    s.add_argument(
        "--costs",
        action="store_true",
        help="convert each variant untrained and print its costs and fits",
    )
    add_json(s)
    s.set_defaults(func=_show)


def _list(args: argparse.Namespace) -> int:
    from vp_edge.family import PRESETS

    lines = [
        f"{name:10} {len(fam.variants)} variants, r = "
        f"{', '.join(str(v.resolution) for v in fam.variants)}, input {fam.input_shape}"
        for name, fam in PRESETS.items()
    ]
    emit(args, {name: fam.to_dict() for name, fam in PRESETS.items()}, "\n".join(lines))
    return 0


def _show(args: argparse.Namespace) -> int:
    from vp_edge.family import load_family

    fam = load_family(args.family)
    w = fam.weights()
    lines = [
        f"family {fam.name}: input {list(fam.input_shape)}, {fam.num_classes} classes, "
        f"resize {fam.resize}, stem stride {fam.stem_stride}",
        f"{'variant':12} {'r':>4} {'alpha':>6} {'F':>5} {'weight':>7}",
    ]
    lines += [
        f"{v.name:12} {v.resolution:>4} {v.alpha:>6.2f} {v.head:>5} {w[v.name]:>7.3f}"
        for v in fam.variants
    ]
    doc = fam.to_dict()
    if args.costs:
        from vp_edge.costs import costs_table, family_costs
        from vp_edge.progress import Progress

        with Progress(
            len(fam.variants), "costs (untrained conversion)", enabled=not args.json
        ) as bar:
            doc["costs"] = family_costs(fam, lambda _: bar.update())
        lines += ["", costs_table(doc["costs"])]
    emit(args, doc, "\n".join(lines))
    return 0
