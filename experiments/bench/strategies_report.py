"""strategies.md, strategies.json and the plots of ``vp-edge bench --strategies``."""

from __future__ import annotations

import json
from pathlib import Path

from experiments.bench.figures import value
from experiments.bench.report_fmt import table

ORDER = ("vp", "mp", "cp", "lcp", "disco")


def _main_rows(r: dict) -> dict[str, dict]:
    """strategy -> its offline row (DISCO: the level deployed live)."""
    keep = r["config"]["live_keep"]
    return {
        n: r["offline"][f"disco-{keep:g}" if n == "disco" else n]
        for n in ORDER
        if (f"disco-{keep:g}" if n == "disco" else n) in r["offline"]
    }


def _pct(x) -> str:
    v = value(x)
    return "—" if v is None else f"{100 * v:.1f} %"


def _num(x, unit: str = "") -> str:
    v = value(x)
    if v is None:
        return "—"
    return f"{v:,.0f}{unit}" if abs(v) >= 100 else f"{v:.3g}{unit}"


def _summary(r: dict) -> list[str]:
    rows = []
    for name, o in _main_rows(r).items():
        lv = r["live"].get(name, {})
        c = r["composed"].get(name, {})
        kills = lv.get("kill_one", {})
        worst = min((value(k["answered"]) for k in kills.values()), default=None)
        lone = lv.get("all_but_one_dead", {})
        lone_acc = [value(k["accuracy"]) for k in lone.values()]
        rows.append(
            [
                name,
                _pct(o["accuracy"]),
                _pct(lv.get("accuracy")),
                _num(o["devices"]),
                _num(o["max_params"]),
                _num(o["max_macs"]),
                _num(o["max_arena_bytes"]),
                _num(lv.get("bytes_per_inference")),
                _num(lv.get("messages_per_inference")),
                _num(lv.get("differ_from_offline")),
                f"{1000 * value(lv['latency_s']['p50']):.1f}" if lv.get("latency_s") else "—",
                f"{1000 * value(c['uart_115200']):.1f}" if c else "—",
                f"{1000 * value(c['wifi_20mbps']):.2f}" if c else "—",
                _pct(worst) if worst is not None else "—",
                f"{_pct(min(lone_acc))} – {_pct(max(lone_acc))}" if lone else "—",
            ]
        )
    n = r["config"]["live_images"]
    return table(
        [
            "strategy",
            "int8 acc (offline)",
            f"acc (live, first {n})",
            "devices",
            "max params",
            "max MACs",
            "max arena B",
            "B/inference (frames)",
            "messages",
            "live ≠ offline",
            "live p50 ms",
            "UART ms (modelled)",
            "Wi-Fi ms (modelled)",
            "answered, worst single kill",
            "accuracy with N-1 dead (per survivor)",
        ],
        rows,
    )


def _availability(r: dict) -> list[str]:
    out = []
    for name in ORDER:
        lv = r["live"].get(name, {})
        if "kill_one" not in lv:
            continue
        off = _main_rows(r)[name]["drop_one"]
        rows = [
            [
                part,
                _pct(k["answered"]),
                _pct(k["accuracy"]),
                _pct(off.get(part, {}).get("accuracy")),
                _num(k["differ_from_offline"]),
                _pct(lv["all_but_one_dead"].get(part, {}).get("answered")),
                _pct(lv["all_but_one_dead"].get(part, {}).get("accuracy")),
            ]
            for part, k in lv["kill_one"].items()
        ]
        out += (
            [f"**{name}**", ""]
            + table(
                [
                    "device (part)",
                    "answered, it killed",
                    "accuracy, it killed",
                    "offline, it dropped",
                    "live ≠ offline",
                    "answered, only it alive",
                    "accuracy, only it alive",
                ],
                rows,
            )
            + [""]
        )
        ps = lv.get("failure_p", [])
        if ps:
            out += table(
                ["p", "answered", "accuracy"],
                [[f"{value(a['p']):g}", _pct(a["available"]), _pct(a["accuracy"])] for a in ps],
            ) + [""]
    return out


def _disco(r: dict) -> list[str]:
    rows = [
        [
            f"{c['keep']:g}",
            _pct(c["accuracy"]),
            _num(c["exchange_bytes"]),
            f"{value(c['reduction']):.2f}×" if value(c["reduction"]) else "—",
            f"{value(c['accuracy_change_points']):+.2f}",
        ]
        for c in r["disco_curve"]
    ]
    return table(
        [
            "keep",
            "int8 accuracy",
            "exchanged B/inference",
            "less than keep 1.0",
            "accuracy change (points)",
        ],
        rows,
    )


def markdown(r: dict) -> str:
    cfg = r["config"]
    lines = [
        "# Strategies side by side",
        "",
        f"VP run `{cfg['run']}`; every strategy trained with its budget "
        f"(`{' '.join(cfg['budget'])}`). Machine: {r['machine'].get('cpu_model', '')} "
        f"({r['machine'].get('cpu_count', '?')} cores, load "
        f"{r['machine'].get('loadavg_at_start')} at start); git "
        f"{r['git'].get('revision', '')[:10]}.",
        "",
        "Offline accuracy: int8 parts on LiteRT reference kernels, "
        f"{cfg['images']} test images. Live: one emulated Linux board per part on loopback "
        f"UDP, {cfg['live_images']} requests one at a time; bytes and messages counted from "
        "the frames (requests and replies, both ways). Response times composed from the "
        "host compute of each call (measured) and its frames on a 115200-baud UART or a "
        "20 Mbit/s Wi-Fi link (modelled; boards in parallel, through the gateway). "
        f"DISCO row: keep {cfg['live_keep']:g}. MP's parts are the baseline cut in two, "
        "so its accuracy is the baseline's. DISCO trains one fine-tune epoch more than "
        "the others at every keep level (docs/strategies.md).",
        "",
    ]
    lines += ["## One table", ""] + _summary(r) + [""]
    lines += ["## DISCO: exchanged bytes over the sparsity level (2 nodes)", ""] + _disco(r) + [""]
    lines += ["## Availability: each device killed, only one alive, failure probability p", ""]
    lines += _availability(r)
    errors = {n: v["error"] for n, v in r["live"].items() if "error" in v}
    if errors:
        lines += (
            ["## Live parts that did not run", ""]
            + [f"- {n}: {e}" for n, e in errors.items()]
            + [""]
        )
    lines += ["## Plots", ""] + [f"![{p}]({p})" for p in r.get("plots", [])] + [""]
    return "\n".join(lines)


def plot(r: dict, out: Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    paths = []
    fig_, ax = plt.subplots(figsize=(6, 4))
    for name, o in _main_rows(r).items():
        b = value(r["live"].get(name, {}).get("bytes_per_inference"))
        if b:
            ax.scatter(b, 100 * value(o["accuracy"]), s=40)
            ax.annotate(
                name, (b, 100 * value(o["accuracy"])), textcoords="offset points", xytext=(5, 3)
            )
    ax.set_xscale("log")
    ax.set_xlabel("bytes on the wire per inference (frames, measured)")
    ax.set_ylabel("int8 top-1 accuracy (%)")
    ax.set_title("Accuracy against communication")
    fig_.tight_layout()
    paths.append(out / "strategies_accuracy_bytes.png")
    fig_.savefig(paths[-1], dpi=110)
    plt.close(fig_)
    curve = r["disco_curve"]
    if curve:
        fig_, ax = plt.subplots(figsize=(6, 4))
        xs = [value(c["exchange_bytes"]) for c in curve]
        ax.plot(xs, [100 * value(c["accuracy"]) for c in curve], "o-")
        for c, x in zip(curve, xs, strict=True):
            ax.annotate(
                f"keep {c['keep']:g}",
                (x, 100 * value(c["accuracy"])),
                textcoords="offset points",
                xytext=(5, 3),
            )
        ax.set_xlabel("node-to-node bytes per inference (int8)")
        ax.set_ylabel("int8 top-1 accuracy (%)")
        ax.set_title("DISCO over 2 nodes: accuracy against exchanged bytes")
        fig_.tight_layout()
        paths.append(out / "strategies_disco_curve.png")
        fig_.savefig(paths[-1], dpi=110)
        plt.close(fig_)
    return paths


def write(report: dict, out: Path, plots: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    report["plots"] = [p.name for p in plot(report, out)] if plots else []
    (out / "strategies.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "strategies.md").write_text(markdown(report))
