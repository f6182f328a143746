"""Offline evaluation: what the gateway must reproduce, request for request.

Each int8 model runs over the test set on LiteRT's reference kernels (one
thread per worker). From the int8 outputs: accuracy per variant, of the
ensemble per vote rule and k, and for every number m of boards alive the mean
and worst accuracy over all m-subsets of the N variants, next to the baseline.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from converters.card import check_model_card, read_card, sha256
from converters.rundir import RunDir
from vp_edge.data import Dataset
from vp_edge.errors import ArtifactError
from vp_edge.family import Family
from vp_edge.outputs import data_fingerprint, load_outputs, save_outputs
from vp_edge.preprocess import quantize
from vp_edge.train import BASELINE, load_run_family, run_class_names, run_state
from vp_edge.vote import RULES, check_k, dequantize, fuse_batch, learn_weights, topk_indices
from vp_edge.workers import engine_for, run_for_evaluation, run_models

DEFAULT_K = 2
DEFAULT_RULE = "reference"
MAX_SUBSETS = 200  # per m, sampled (seeded) beyond this
VAL_IMAGES = 1000


def load_cards(run: Path, family: Family) -> dict[str, dict]:
    """Every model card of a run; a card whose class order differs from the run's is refused."""
    names = list(run_class_names(run, family))
    cards = {}
    for name in [v.name for v in family.variants] + [BASELINE]:
        path = RunDir(run).card(name)
        if path.exists():
            cards[name] = read_card(path)
            own = cards[name].get("class_names")
            if own is not None and list(own) != names:
                raise ArtifactError(
                    f"{path}: its classes {list(own)} differ from the run's {names} (labels "
                    f"would be served under the wrong names); run 'vp-edge convert --run {run}'"
                )
        elif name != BASELINE:
            raise ArtifactError(
                f"{run}: no model card for variant {name}; run 'vp-edge convert' first"
            )
    return cards


def int8_outputs(
    run: Path, cards: dict[str, dict], data: Dataset, tag: str, show: bool = True
) -> dict[str, np.ndarray]:
    """int8 outputs of every model on ``data`` (cached per model and data fingerprint)."""
    fp = data_fingerprint(data.x, data.y)
    out, jobs = {}, []
    for name, card in cards.items():
        path = RunDir(run).model(name)
        if not path.exists():
            raise ArtifactError(f"{path} is missing; run 'vp-edge convert --run {run}'")
        blob = path.read_bytes()
        check_model_card(blob, card, path, run)  # a model and a card of two conversions
        model_sha = f"{sha256(blob)}:{engine_for(name)}"
        cache = RunDir(run).outputs(name, tag)
        cached = load_outputs(cache, model_sha, fp)
        if cached is not None:
            out[name] = cached
        else:
            x = quantize(data.x, card["input_scale"], card["input_zero_point"])
            jobs.append((name, path, x, cache, model_sha))
    if jobs:
        done = run_for_evaluation(
            [(n, p, x) for n, p, x, _, _ in jobs],
            label=f"int8 {tag.strip('.') or 'test'} set",
            show=show,
        )
        RunDir(run).outputs_dir.mkdir(exist_ok=True)
        for name, _, _, cache, model_sha in jobs:
            save_outputs(cache, done[name], model_sha, fp)
            out[name] = done[name]
    return out


def engine_check(
    run: Path,
    cards: dict[str, dict],
    names: Sequence[str],
    test: Dataset,
    reference: dict[str, np.ndarray],
    show: bool = True,
) -> dict[str, dict]:
    """The C engine on each variant's .vpw (the file PYNQ and firmware boards run) against the
    LiteRT reference outputs, value by value over the whole test set."""
    from converters.verify import first_bad_layer
    from converters.vpw_run import ensure_vpw

    jobs = []
    for name in names:
        x = quantize(test.x, cards[name]["input_scale"], cards[name]["input_zero_point"])
        jobs.append((name, ensure_vpw(run, name), x))
    ours = run_models(jobs, "c-engine", label="C engine vs LiteRT reference", show=show)
    out = {}
    for name, vpw, x in jobs:
        diff = ours[name] != reference[name]
        row = {
            "inputs": int(len(x)),
            "values": int(diff.size),
            "differing": int(diff.sum()),
            "first_bad_layer": None,
        }
        if row["differing"]:
            tfl = RunDir(run).model(name).read_bytes()
            bad = int(np.argmax(diff.any(axis=1)))
            row["first_bad_layer"] = first_bad_layer(tfl, vpw.read_bytes(), x[bad])
        out[name] = row
    return out


def topk_arrays(q: np.ndarray, k: int, card: dict) -> tuple[np.ndarray, np.ndarray]:
    """(classes[n, k], scores[n, k]) exactly as a board reports them (ties -> lower class)."""
    idx = topk_indices(q, k)
    vals = np.take_along_axis(q, idx, axis=1)
    return idx, dequantize(vals, card["output_scale"], card["output_zero_point"])


def ensemble_accuracy(
    outputs: dict[str, np.ndarray],
    cards: dict[str, dict],
    y: np.ndarray,
    members: Sequence[str],
    k: int,
    rule: str,
    weights: dict[str, float] | None,
    num_classes: int,
) -> float:
    winners = ensemble_winners(outputs, cards, members, k, rule, weights, num_classes)
    return float(np.mean(winners == y))


def ensemble_winners(
    outputs: dict[str, np.ndarray],
    cards: dict[str, dict],
    members: Sequence[str],
    k: int,
    rule: str,
    weights: dict[str, float] | None,
    num_classes: int,
) -> np.ndarray:
    """The vote's winner for every input, from each member's int8 top-k as boards report it."""
    topk = {m: topk_arrays(outputs[m], k, cards[m]) for m in members}
    return fuse_batch(topk, num_classes, rule, weights)


def paired_comparison(a_right: np.ndarray, b_right: np.ndarray) -> dict:
    """Model A against model B on the same inputs (per-input correctness masks).

    ``difference_points``: accuracy of A minus B, in points; ``ci95_points``: its 95 %
    interval (normal approximation for paired proportions); ``a_only`` / ``b_only``: inputs
    only A (only B) gets right; ``mcnemar_p``: exact two-sided McNemar test on those two
    counts, the chance of a split at least this uneven if A and B were equally accurate.
    """
    a_right, b_right = np.asarray(a_right, bool), np.asarray(b_right, bool)
    if a_right.shape != b_right.shape or a_right.ndim != 1 or not a_right.size:
        raise ValueError("paired_comparison needs two equal-length, non-empty 1-D masks")
    n = int(a_right.size)
    a_only = int(np.sum(a_right & ~b_right))
    b_only = int(np.sum(b_right & ~a_right))
    d = (a_only - b_only) / n
    se = math.sqrt(max(0.0, (a_only + b_only) - (a_only - b_only) ** 2 / n)) / n
    m = a_only + b_only
    tail, term = 0, 1  # sum of C(m, i) for i <= min(a_only, b_only), in exact integers
    for i in range(min(a_only, b_only) + 1):
        tail += term
        term = term * (m - i) // (i + 1)
    p = 1.0 if m == 0 else min(1.0, float(Fraction(2 * tail, 2**m)))
    return {
        "inputs": n,
        "a_only": a_only,
        "b_only": b_only,
        "difference_points": 100 * d,
        "ci95_points": [100 * (d - 1.96 * se), 100 * (d + 1.96 * se)],
        "mcnemar_p": p,
    }


def subsets(names: Sequence[str], m: int, seed: int = 0) -> list[tuple[str, ...]]:
    combos = list(itertools.combinations(sorted(names), m))
    if len(combos) <= MAX_SUBSETS:
        return combos
    rng = np.random.default_rng(seed)
    return [combos[i] for i in sorted(rng.choice(len(combos), MAX_SUBSETS, replace=False))]


def evaluate(
    run: Path,
    test: Dataset,
    val: Dataset | None,
    ks: Sequence[int] | None = None,
    rules: Sequence[str] = RULES,
    k_default: int = DEFAULT_K,
    show: bool = True,
    check_engine: bool = False,
) -> dict:
    """The full offline report of a converted run (docs/outputs.md lists the JSON keys)."""
    family = load_run_family(run)
    cards = load_cards(run, family)
    C = family.num_classes
    k_default = check_k(k_default, C)
    ks = sorted({check_k(k, C) for k in (ks or range(1, C // 2 + 1))} | {k_default})
    names = [v.name for v in family.variants]
    outputs = int8_outputs(run, cards, test, "", show)
    y = test.y
    weights = {"reference": family.weights(), "sum": None, "majority": None}
    wrong = {n: np.argmax(outputs[n], 1) != y for n in cards}
    per_model = {n: float(np.mean(~w)) for n, w in wrong.items()}
    if "learned" in rules:
        vdata = val.subset(VAL_IMAGES) if val is not None else None
        if vdata is None:
            raise ArtifactError("the 'learned' rule needs a validation set")
        vout = int8_outputs(run, {n: cards[n] for n in names}, vdata, ".val", show)
        weights["learned"] = learn_weights(
            {n: float(np.mean(np.argmax(vout[n], 1) == vdata.y)) for n in names}
        )
    ensemble = {
        rule: {
            str(k): ensemble_accuracy(outputs, cards, y, names, k, rule, weights[rule], C)
            for k in ks
        }
        for rule in rules
    }
    alive = _boards_alive(outputs, cards, y, names, k_default, weights, C)
    report = _report(family, cards, per_model, ensemble, alive, weights, ks, k_default, test)
    report["recipe"] = run_state(run).get("recipe", "joint")
    report["error_agreement"] = error_agreement({n: wrong[n] for n in names})
    ens_pred = ensemble_winners(
        outputs, cards, names, k_default, DEFAULT_RULE, weights[DEFAULT_RULE], C
    )
    ens_right = ens_pred == y
    preds = {n: np.argmax(outputs[n], 1) for n in cards}
    report["per_class"] = per_class(
        y, {**preds, "ensemble": ens_pred}, C, run_class_names(run, family)
    )
    report["confusion"] = confusion_matrix(y, ens_pred, C).tolist()
    best = max(names, key=lambda n: per_model[n])
    report["paired"] = {"ensemble_vs_best_single": paired_comparison(ens_right, ~wrong[best])}
    report["paired"]["ensemble_vs_best_single"]["best_single"] = best
    if BASELINE in wrong:
        report["paired"]["ensemble_vs_baseline"] = paired_comparison(ens_right, ~wrong[BASELINE])
    if check_engine:
        report["engine_check"] = engine_check(run, cards, names, test, outputs, show)
    return report


def confusion_matrix(y: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """counts[true class, predicted class]."""
    m = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(m, (np.asarray(y, np.int64), np.asarray(pred, np.int64)), 1)
    return m


def per_class(
    y: np.ndarray, preds: dict[str, np.ndarray], num_classes: int, names: Sequence[str] = ()
) -> dict:
    """Top-1 accuracy of every model on each class (None for a class absent from the test set):
    where a model is weak hides in the mean."""
    support = np.bincount(np.asarray(y, np.int64), minlength=num_classes)
    acc = {}
    for model, p in preds.items():
        right = np.bincount(np.asarray(y, np.int64)[p == y], minlength=num_classes)
        acc[model] = [float(r / n) if n else None for r, n in zip(right, support, strict=True)]
    return {
        "class_names": list(names) or [str(c) for c in range(num_classes)],
        "support": support.tolist(),
        "accuracy": acc,
    }


def error_agreement(wrong: dict[str, np.ndarray]) -> dict:
    """How much the variants err together (what limits the vote), from per-image error masks.

    ``all_wrong``: share of inputs every variant gets wrong; ``all_wrong_if_independent``: the
    same if errors were independent (product of error rates); ``pairs``: for each ordered pair
    (a, b), the share of a's errors that b also makes.
    """
    names = list(wrong)
    w = np.stack([wrong[n] for n in names])
    rates = w.mean(axis=1)
    pairs = {
        f"{a}|{b}": float((w[i] & w[j]).sum() / max(1, w[i].sum()))
        for i, a in enumerate(names)
        for j, b in enumerate(names)
        if i != j
    }
    return {
        "error_rates": {n: float(r) for n, r in zip(names, rates, strict=True)},
        "all_wrong": float(w.all(axis=0).mean()),
        "all_wrong_if_independent": float(np.prod(rates)),
        "pairs": pairs,
    }


def _boards_alive(outputs, cards, y, names, k, weights, C) -> list[dict]:
    rows = []
    for m in range(1, len(names) + 1):
        accs = {
            ",".join(s): ensemble_accuracy(
                outputs, cards, y, s, k, DEFAULT_RULE, weights[DEFAULT_RULE], C
            )
            for s in subsets(names, m)
        }
        worst = min(accs, key=accs.get)
        rows.append(
            {
                "m": m,
                "subsets": len(accs),
                "mean": float(np.mean(list(accs.values()))),
                "worst": accs[worst],
                "worst_subset": worst.split(","),
                "best": max(accs.values()),
            }
        )
    return rows


def _report(family, cards, per_model, ensemble, alive, weights, ks, k_default, test) -> dict:
    base = cards.get(BASELINE)
    variants = []
    for v in family.variants:
        c = cards[v.name]
        row = {
            "name": v.name,
            "resolution": v.resolution,
            "alpha": v.alpha,
            "head": v.head,
            "weight": weights["reference"][v.name],
            "params": c["params"],
            "macs": c["macs"],
            "tflite_bytes": c["tflite_bytes"],
            "arena_bytes": c["arena_bytes"],
            "float_accuracy": c["float_accuracy"],
            "int8_accuracy": per_model[v.name],
            "int8_drop_points": 100 * (c["float_accuracy"] - per_model[v.name])
            if c["float_accuracy"] is not None and c.get("test_images") == len(test.y)
            else None,
        }
        if base:
            row["params_ratio"] = base["params"] / c["params"]
            row["macs_ratio"] = base["macs"] / c["macs"]
        variants.append(row)
    best_single = max(per_model[v.name] for v in family.variants)
    return {
        "family": family.name,
        "test_images": int(len(test.y)),
        "num_classes": family.num_classes,
        "k_default": k_default,
        "rule_default": DEFAULT_RULE,
        "ks": ks,
        "variants": variants,
        "baseline": None
        if not base
        else {
            "params": base["params"],
            "macs": base["macs"],
            "tflite_bytes": base["tflite_bytes"],
            "arena_bytes": base["arena_bytes"],
            "float_accuracy": base["float_accuracy"],
            "int8_accuracy": per_model[BASELINE],
        },
        "best_single": best_single,
        "ensemble": ensemble,
        "ensemble_default": ensemble[DEFAULT_RULE][str(k_default)]
        if DEFAULT_RULE in ensemble
        else None,
        "boards_alive": alive,
        "weights": {r: w for r, w in weights.items() if w is not None},
    }
