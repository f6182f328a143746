"""Human tables and PNG plots of an evaluation report (matplotlib, imported lazily)."""

from __future__ import annotations

from pathlib import Path


def _pct(x: float | None) -> str:
    return "   -  " if x is None else f"{100 * x:5.2f}%"


def _ratio(x: float | None) -> str:
    """baseline / variant; '-' when the run has no baseline to compare with."""
    return "-" if x is None else f"{x:.2f}x"


def evaluation_table(r: dict) -> str:
    """Per-variant rows, baseline, ensemble per rule x k, and accuracy with m boards alive."""
    out = [
        f"family {r['family']} (recipe {r.get('recipe', 'joint')}): {r['test_images']} "
        f"test images, {r['num_classes']} classes, "
        f"int8 on LiteRT reference kernels"
    ]
    out += _model_rows(r) + _ensemble_rows(r) + _agreement_rows(r)
    out += per_class_table(r)
    for name, c in r.get("engine_check", {}).items():
        out.append(
            f"C engine vs LiteRT reference, {name}: {c['values']:,} int8 values over "
            f"{c['inputs']:,} inputs, {c['differing']} differ"
        )
    b = r.get("baseline")
    out += [
        "",
        f"best single variant {_pct(r['best_single'])}  |  ensemble "
        f"{_pct(r['ensemble_default'])}  |  baseline {_pct(b['int8_accuracy'] if b else None)}",
    ]
    return "\n".join(out)


def _model_rows(r: dict) -> list[str]:
    """One row per variant (size, cost ratios, float and int8 accuracy), then the baseline."""
    head = (
        f"{'model':12} {'r':>4} {'alpha':>5} {'F':>5} {'params':>10} {'MACs':>11} "
        f"{'x params':>8} {'x MACs':>7} {'float':>7} {'int8':>7} {'drop':>6}"
    )
    out = ["", head, "-" * len(head)]
    for v in r["variants"]:
        drop = "   -  " if v["int8_drop_points"] is None else f"{v['int8_drop_points']:+5.2f}"
        out.append(
            f"{v['name']:12} {v['resolution']:>4} {v['alpha']:>5.2f} {v['head']:>5} "
            f"{v['params']:>10,} {v['macs']:>11,} {_ratio(v.get('params_ratio')):>8} "
            f"{_ratio(v.get('macs_ratio')):>7} {_pct(v['float_accuracy'])} "
            f"{_pct(v['int8_accuracy'])} {drop}"
        )
    b = r.get("baseline")
    if b:
        out.append(
            f"{'baseline':12} {'':>4} {1.0:>5.2f} {1280:>5} {b['params']:>10,} "
            f"{b['macs']:>11,} {1.0:>7.2f}x {1.0:>6.2f}x {_pct(b['float_accuracy'])} "
            f"{_pct(b['int8_accuracy'])}"
        )
    return out


def _ensemble_rows(r: dict) -> list[str]:
    """The ensemble by vote rule and k, and with m boards alive (mean and worst subset)."""
    out = ["", "ensemble top-1 (int8) by vote rule and k:"]
    ks = [str(k) for k in r["ks"]]
    out.append(f"{'rule':10} " + " ".join(f"{'k=' + k:>8}" for k in ks))
    for rule, accs in r["ensemble"].items():
        out.append(f"{rule:10} " + " ".join(f"{_pct(accs[k]):>8}" for k in ks))
    out += [
        "",
        f"boards alive (rule {r['rule_default']}, k={r['k_default']}): "
        "mean / worst over all subsets of m variants",
    ]
    out.append(f"{'m':>3} {'subsets':>8} {'mean':>8} {'worst':>8}  worst subset")
    for row in r["boards_alive"]:
        out.append(
            f"{row['m']:>3} {row['subsets']:>8} {_pct(row['mean']):>8} "
            f"{_pct(row['worst']):>8}  {'+'.join(row['worst_subset'])}"
        )
    return out


def _agreement_rows(r: dict) -> list[str]:
    """How often the variants are wrong together, and the paired tests against the ensemble."""
    out = []
    ea = r.get("error_agreement")
    if ea:
        worst = max(ea["pairs"].items(), key=lambda kv: kv[1])
        out.append(
            f"variants all wrong on {_pct(ea['all_wrong']).strip()} of inputs "
            f"({_pct(ea['all_wrong_if_independent']).strip()} if their errors were independent); "
            f"most shared errors: {worst[0].replace('|', ' -> ')} {_pct(worst[1]).strip()}"
        )
    pairs = (("ensemble_vs_best_single", "best single"), ("ensemble_vs_baseline", "baseline"))
    for key, label in pairs:
        pc = r.get("paired", {}).get(key)
        if pc:
            lo, hi = pc["ci95_points"]
            out.append(
                f"ensemble vs {label}: {pc['difference_points']:+.2f} points "
                f"(95% CI {lo:+.2f} to {hi:+.2f}; only ensemble right {pc['a_only']}, "
                f"only {label} right {pc['b_only']}; McNemar p = {pc['mcnemar_p']:.2g})"
            )
    return out


def per_class_table(r: dict) -> list[str]:
    """Top-1 per class for each model (the ensemble at the default rule and k)."""
    pc = r.get("per_class")
    if not pc:
        return []
    models = list(pc["accuracy"])
    out = [
        "",
        f"top-1 per class (ensemble: rule {r['rule_default']}, k={r['k_default']}):",
        f"{'class':14} {'n':>5} " + " ".join(f"{m[:9]:>9}" for m in models),
    ]
    for c, name in enumerate(pc["class_names"]):
        cells = " ".join(f"{_pct(pc['accuracy'][m][c]):>9}" for m in models)
        out.append(f"{name[:14]:14} {pc['support'][c]:>5} {cells}")
    return out


def plot_confusion(r: dict, path: Path) -> Path:
    """The ensemble's confusion matrix (rows: true class, columns: predicted), row-normalised."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    m = np.asarray(r["confusion"], float)
    share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    names = r["per_class"]["class_names"]
    n = len(names)
    fig, ax = plt.subplots(figsize=(1.5 + 0.55 * n, 1.2 + 0.5 * n))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            if m[i, j]:
                ax.text(
                    j,
                    i,
                    f"{int(m[i, j])}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if share[i, j] > 0.5 else "black",
                )
    ax.set(
        xticks=range(n),
        yticks=range(n),
        xlabel="predicted",
        ylabel="true",
        title=f"{r['family']}: ensemble confusion ({r['rule_default']}, k={r['k_default']})",
    )
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=7)
    ax.set_yticklabels(names, fontsize=7)
    return _save(fig, path)


def plot_evaluation(r: dict, outdir: Path) -> list[Path]:
    """accuracy_vs_boards.png and accuracy_vs_macs.png; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    base = r.get("baseline")
    fig, ax = plt.subplots(figsize=(6, 4))
    ms = [row["m"] for row in r["boards_alive"]]
    ax.plot(ms, [100 * row["mean"] for row in r["boards_alive"]], "o-", label="ensemble, mean")
    ax.plot(ms, [100 * row["worst"] for row in r["boards_alive"]], "s--", label="ensemble, worst")
    if base:
        ax.axhline(100 * base["int8_accuracy"], color="gray", ls=":", label="baseline (1 board)")
    ax.set(
        xlabel="boards alive (m of N)",
        ylabel="top-1 accuracy (%)",
        xticks=ms,
        title=f"{r['family']}: accuracy with m boards alive (k={r['k_default']})",
    )
    ax.legend()
    ax.grid(alpha=0.3)
    paths.append(_save(fig, outdir / "accuracy_vs_boards.png"))
    fig, ax = plt.subplots(figsize=(6, 4))
    for v in r["variants"]:
        ax.scatter(v["macs"] / 1e6, 100 * v["int8_accuracy"], color="C0")
        ax.annotate(v["name"], (v["macs"] / 1e6, 100 * v["int8_accuracy"]), fontsize=7)
    total = sum(v["macs"] for v in r["variants"]) / 1e6
    ax.scatter(
        total,
        100 * r["ensemble_default"],
        color="C2",
        marker="*",
        s=120,
        label="ensemble (sum of MACs)",
    )
    if base:
        ax.scatter(
            base["macs"] / 1e6,
            100 * base["int8_accuracy"],
            color="C3",
            marker="D",
            label="baseline",
        )
    ax.set(
        xlabel="MMACs per inference",
        ylabel="top-1 accuracy (%)",
        xscale="log",
        title=f"{r['family']}: accuracy vs compute (int8)",
    )
    _plain_log_ticks(ax.xaxis)
    ax.legend()
    ax.grid(alpha=0.3)
    paths.append(_save(fig, outdir / "accuracy_vs_macs.png"))
    if r.get("confusion"):
        paths.append(plot_confusion(r, outdir / "confusion.png"))
    return paths


def _plain_log_ticks(axis) -> None:
    """Log-axis labels at 1, 2 and 5 per decade as plain numbers ("0.5", "2", "20"), none on
    the minor ticks: matplotlib's default labels every minor tick as "3x10^0" on a span under
    two decades, and those overlap."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
