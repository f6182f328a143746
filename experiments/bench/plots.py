"""PNG plots of a bench report (matplotlib, Agg). Each title says measured or modelled."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from experiments.bench.figures import value


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_cost(r: dict, out: Path) -> Path | None:
    c = r["model_cost"]
    if not c["baseline"]:
        return None
    names = [v["name"] for v in c["variants"]]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    xs = range(len(names))
    ax.bar(
        [x - 0.2 for x in xs],
        [value(v["params_ratio"]) for v in c["variants"]],
        0.4,
        label="params",
    )
    ax.bar(
        [x + 0.2 for x in xs], [value(v["macs_ratio"]) for v in c["variants"]], 0.4, label="MACs"
    )
    for key, ls in (("params_ratio", ":"), ("macs_ratio", "--")):
        for end in ("low", "high"):
            ax.axhline(value(c["paper"][key][end]), ls=ls, lw=0.8, color="grey")
    ax.set_xticks(list(xs), names)
    ax.set_ylabel("baseline / variant (x)")
    ax.set_title("Model cost ratios (measured; grey: paper ranges)")
    ax.legend()
    return _save(fig, out / "model_cost.png")


def plot_compute(r: dict, out: Path) -> Path:
    comp = r["response_time"]["compute"]
    models = sorted({m for rows in comp.values() for m in rows})
    fig, ax = plt.subplots(figsize=(7, 3.8))
    w = 0.8 / max(1, len(comp))
    for i, (engine, rows) in enumerate(comp.items()):
        ys = [
            value(rows[m]["compute_s"]) * 1000 if "compute_s" in rows.get(m, {}) else 0
            for m in models
        ]
        ax.bar([j + i * w for j in range(len(models))], ys, w, label=engine)
    ax.set_xticks([j + w * (len(comp) - 1) / 2 for j in range(len(models))], models)
    ax.set_yscale("log")
    ax.set_ylabel("ms per inference")
    ax.set_title("Compute per inference, batch 1, this machine (measured)")
    ax.legend()
    return _save(fig, out / "compute.png")


def plot_response(r: dict, out: Path) -> Path:
    sc = r["response_time"]["composed"]["scenarios"]
    names = [n for n, s in sc.items() if "vp_s" in s]
    fig, ax = plt.subplots(figsize=(8, 4))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [value(sc[n]["vp_s"]) * 1000 for n in names], 0.4, label="VP")
    ax.bar(
        [x + 0.2 for x in xs],
        [value(sc[n].get("baseline_s")) * 1000 if "baseline_s" in sc[n] else 0 for n in names],
        0.4,
        label="baseline",
    )
    ax.set_xticks(list(xs), names, rotation=30, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("ms")
    ax.set_title("Response time, VP vs baseline (modelled from measured compute)")
    ax.legend()
    return _save(fig, out / "response_time.png")


def plot_comm(r: dict, out: Path) -> Path | None:
    c = r["communication"]
    ps = r.get("paper_scale", {})
    if "mp" not in c and "mp_cuts" not in ps:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.8))
    if "mp" in c:
        cuts = c["mp"]["cuts"]
        ax.plot(
            [x["op_index"] for x in cuts],
            [value(x["activation_bytes"]) for x in cuts],
            ".-",
            label="MP: int8 bytes at the cut, this run's baseline",
        )
    if "mp_cuts" in ps:
        cuts = ps["mp_cuts"]
        ax.plot(
            [x["op_index"] for x in cuts],
            [value(x["activation_bytes"]) for x in cuts],
            ".-",
            color="C1",
            label="MP: MobileNetV2-1.0 at 224x224",
        )
    ax.axhline(
        value(c["vp"]["result_total_udp_bytes"]), color="C2", label="VP: RESULT frames, all boards"
    )
    ax.axhline(
        value(c["vp"]["result_frame_udp_bytes"]), color="C2", ls=":", label="VP: one RESULT frame"
    )
    ax.axhline(
        value(c["cp"]["total_udp_bytes"]), color="C3", ls="--", label="CP: all groups (modelled)"
    )
    ax.set_yscale("log")
    ax.set_xlabel("cut after op (topological order)")
    ax.set_ylabel("bytes per inference")
    ax.set_title("Communication per inference (measured from the graphs and codec)")
    ax.legend(fontsize=7)
    return _save(fig, out / "communication.png")


def plot_availability(r: dict, out: Path) -> Path:
    av = r["failures"]["availability"]
    ps = [value(a["p"]) for a in av]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(ps, [value(a["analytic"]["vp"]) for a in av], "-", label="VP 1-p^N (modelled)")
    ax.plot(ps, [value(a["analytic"]["mp"]) for a in av], "--", label="MP/CP (1-p)^N (modelled)")
    ax.plot(
        ps,
        [value(a["fault_injection"]["vp_available"]) for a in av],
        "o",
        label="VP fault injection (measured)",
    )
    ax.plot(
        ps,
        [value(a["fault_injection"]["mp_available"]) for a in av],
        "s",
        label="MP/CP fault injection (measured)",
    )
    ax.plot(
        ps,
        [value(a["fault_injection"]["vp_accuracy"]) for a in av],
        "^",
        label="VP top-1 under faults (measured)",
    )
    gfi = r["failures"].get("gateway_fault_injection")
    if isinstance(gfi, list) and gfi:
        ax.plot(
            [value(a["p"]) for a in gfi],
            [value(a["available"]) for a in gfi],
            "D",
            mfc="none",
            label="VP through the gateway (measured)",
        )
    ax.set_xlabel("per-board failure probability p")
    ax.set_ylabel("share of requests")
    ax.set_title("Availability vs p (analytic: modelled; injected: measured)")
    ax.legend(fontsize=7)
    return _save(fig, out / "availability.png")


def plot_m_alive(r: dict, out: Path) -> Path:
    fl = r["failures"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ms = [x["m"] for x in fl["m_of_n"]]
    ax.plot(ms, [value(x["mean"]) for x in fl["m_of_n"]], "o-", label="offline mean (measured)")
    ax.plot(ms, [value(x["worst"]) for x in fl["m_of_n"]], "v:", label="offline worst (measured)")
    live = fl.get("gateway_m_alive")
    if isinstance(live, list) and live:
        ax.plot(
            [x["m"] for x in live],
            [value(x["live_accuracy"]) for x in live],
            "s",
            label="gateway, boards killed (measured)",
        )
    ax.set_xlabel("boards alive (m of N)")
    ax.set_ylabel("top-1")
    ax.set_title("Accuracy with m of N boards alive (measured)")
    ax.legend(fontsize=7)
    return _save(fig, out / "m_of_n.png")


def plots(r: dict, out: Path) -> list[Path]:
    done = [
        plot_cost(r, out),
        plot_compute(r, out),
        plot_response(r, out),
        plot_comm(r, out),
        plot_availability(r, out),
        plot_m_alive(r, out),
    ]
    return [p for p in done if p is not None]
