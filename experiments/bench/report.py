"""report.md and the PNG plots of a bench report; every number shows its kind.

A figure prints as ``value unit [kind]`` with kind abbreviated: M = measured here, Mod =
modelled from measured inputs and stated assumptions, P = the paper. Plot titles say the same.
"""

from __future__ import annotations

from pathlib import Path

from experiments.bench.figures import value
from experiments.bench.report_fmt import f, table
from experiments.bench.report_response import response


def _cost(r: dict) -> list[str]:
    c = r["model_cost"]
    keys = ["params", "macs", "tflite_bytes", "arena_bytes", "int8_accuracy"]
    rows = [
        [
            v["name"],
            f"{v['variant']['resolution']}/{v['variant']['alpha']:g}/{v['variant']['head']}",
        ]
        + [f(v[k]) for k in keys]
        + [f(v.get("params_ratio")), f(v.get("macs_ratio"))]
        for v in c["variants"]
    ]
    if c["baseline"]:
        rows.append(
            ["baseline", "MobileNetV2 1.0"] + [f(c["baseline"][k]) for k in keys] + ["1x", "1x"]
        )
    out = ["## 1. Model cost", ""]
    out += table(
        [
            "model",
            "r/α/F",
            "params",
            "MACs",
            "int8 bytes",
            "arena bytes",
            "int8 top-1",
            "× fewer params",
            "× fewer MACs",
        ],
        rows,
    )
    out.append(f"Ensemble top-1: {f(c['ensemble_accuracy'])} on {f(c['test_images'])}.")
    p = c["paper"]
    for key in ("params", "macs"):
        if f"{key}_ratio_range" in c:
            rr = c[f"{key}_ratio_range"]
            out.append(
                f"- {key} ratio baseline/variant: {f(rr['low'])} – {f(rr['high'])}; "
                f"paper: {f(p[key + '_ratio']['low'])} – {f(p[key + '_ratio']['high'])}"
            )
    if "family_total_vs_baseline" in c:
        t = c["family_total_vs_baseline"]
        out.append(f"- whole family vs baseline: params {f(t['params'])}, MACs {f(t['macs'])}")
    return out + [""]


def _comm(r: dict) -> list[str]:
    c = r["communication"]
    vp = c["vp"]
    out = [
        "## 3. Communication per inference",
        "",
        f"- VP: one RESULT frame per board {f(vp['result_frame_udp_bytes'])} "
        f"({f(vp['result_frame_serial_bytes'])} on a UART), all boards "
        f"{f(vp['result_total_udp_bytes'])}; payload {f(vp['result_payload_bytes'])}.",
        "- VP input to each board: "
        + ", ".join(f"{b['name']} {f(b['infer_udp_bytes'])}" for b in vp["boards"]),
        f"- CP (sensAI-style, {c['cp']['method']}): total {f(c['cp']['total_udp_bytes'])}.",
    ]
    if "mp" in c:
        mp = c["mp"]
        ch = mp["cheapest"]
        out += [
            f"- MP: cheapest trunk cut after op {ch['op_index']} ({ch['op']}, tensors "
            f"{ch['shape']}): {f(ch['activation_bytes'])}, framed "
            f"{f(ch['framed_udp_bytes'])}, UART {f(ch['uart_115200_s'])}, Wi-Fi "
            f"{f(ch['wifi_20mbps_s'])}.",
            f"- MP cheapest cut / VP RESULT bytes (all boards): "
            f"{f(mp['ratio_vs_vp_total'])}; per board: {f(mp['ratio_vs_vp_board'])}. "
            "At this run's input size the baseline's late feature maps are a few pixels "
            "wide, so its cheapest cut is small: section 6 is the same comparison on "
            "224x224 graphs.",
        ]
    out += [f"- Assumptions: {c['assumptions']}", ""]
    if "mp" in c:
        rows = [
            [
                str(x["op_index"]),
                x["op"],
                x["region"],
                str(x["shape"]),
                f(x["activation_bytes"]),
                f(x["uart_115200_s"]),
                f(x["wifi_20mbps_s"]),
            ]
            for x in c["mp"]["cuts"]
        ]
        out += ["<details><summary>Every MP cut of the baseline</summary>", ""]
        out += table(
            [
                "after op",
                "op",
                "region",
                "live tensors",
                "int8 bytes",
                "UART 115200",
                "Wi-Fi 20 Mbit/s",
            ],
            rows,
        )
        out += ["</details>", ""]
    return out


def _failures(r: dict) -> list[str]:
    fl = r["failures"]
    out = ["## 4. Failures", "", "### Accuracy with m of N boards alive", ""]
    rows = [[str(x["m"]), f(x["mean"]), f(x["worst"]), f(x["best"])] for x in fl["m_of_n"]]
    out += table(["m alive", "mean (offline)", "worst", "best"], rows)
    live = fl.get("gateway_m_alive")
    if isinstance(live, list) and live:
        out += ["Through the gateway, boards killed one by one:", ""]
        out += table(
            ["m alive", "alive", "live top-1", "offline same boards", "answered"],
            [
                [
                    str(x["m"]),
                    ", ".join(x["alive"]),
                    f(x["live_accuracy"]),
                    f(x["offline_accuracy"]),
                    f(x["answered"]),
                ]
                for x in live
            ],
        )
    elif isinstance(live, dict):
        out += [f"Through the gateway: not run ({live.get('error') or live.get('skipped')})", ""]
    out += ["### Availability vs per-board failure probability p", ""]
    rows = [
        [
            f"{value(a['p']):g}",
            f(a["analytic"]["vp"]),
            f(a["fault_injection"]["vp_available"]),
            f(a["fault_injection"]["vp_accuracy"]),
            f(a["analytic"]["mp"]),
            f(a["fault_injection"]["mp_available"]),
            f(a["fault_injection"].get("mp_accuracy")),
        ]
        for a in fl["availability"]
    ]
    out += table(
        [
            "p",
            "VP 1-p^N",
            "VP injected",
            "VP top-1 injected",
            "MP/CP (1-p)^N",
            "MP/CP injected",
            "MP top-1 injected",
        ],
        rows,
    )
    gfi = fl.get("gateway_fault_injection")
    if isinstance(gfi, list) and gfi:
        out += [
            "Through the gateway (emulated boards; each board misses a whole "
            "request with probability p):",
            "",
        ]
        out += table(
            ["p", "answered", "top-1"],
            [[f"{value(a['p']):g}", f(a["available"]), f(a["accuracy"])] for a in gfi],
        )
    return out


def _paper(r: dict) -> list[str]:
    ps = r.get("paper_scale", {})
    out = ["## 6. At the paper's input size: 224x224 int8 graphs", ""]
    if "models" not in ps:
        return out + [f"Not run: {ps.get('skipped') or ps.get('error')}", ""]
    out += [
        f"The paper's grid built by the same generator and converted to full int8 by the "
        f"same converter; {ps['method']}. Every figure below is read from those graphs or "
        "timed on them.",
        "",
    ]
    rows = [
        [
            n,
            f(m["params"]),
            f(m["macs"]),
            f(m["tflite_bytes"]),
            f(m["compute_s"]),
            f(m.get("params_ratio")),
            f(m.get("macs_ratio")),
        ]
        for n, m in ps["models"].items()
    ]
    out += table(
        [
            "model",
            "params",
            "MACs",
            "int8 bytes",
            "compute (LiteRT builtin)",
            "× fewer params",
            "× fewer MACs",
        ],
        rows,
    )
    ch = ps["mp_cheapest_cut"]
    n = len(ps["models"]) - 1
    out += [
        f"- Compute, baseline / slowest variant: {f(ps['compute_ratio_slowest'])}; / fastest "
        f"variant: {f(ps['compute_ratio_fastest'])} (paper's response-time range 2.5–13.2×).",
        f"- MP: cheapest trunk cut of MobileNetV2-1.0@224 after op {ch['op_index']} "
        f"({ch['op']}, tensors {ch['shape']}): {f(ch['activation_bytes'])}; a pipeline over "
        f"{n} devices ships at least {f(ps['mp_n_stage_bytes'])} ({n - 1} cuts).",
        f"- VP: one RESULT frame {f(ps['result_frame_udp_bytes'])}. MP cheapest cut / one "
        f"frame: {f(ps['ratio_per_board'])}; / one payload: "
        f"{f(ps['ratio_payload_per_board'])}; / all {n} frames: "
        f"{f(ps['ratio_all_boards'])}; MP over {n} devices / VP on {n} boards: "
        f"{f(ps['ratio_same_devices'])}.",
        f"- Not counted above: each VP board also needs the input, {f(ps['input_bytes'])} "
        "unless it has its own sensor (MP's first device needs it too).",
        "",
    ]
    return out


def _gateway_cost(r: dict) -> list[str]:
    g = r["gateway_cost"]
    out = [
        "## 5. Gateway cost",
        "",
        f"- Pure vote (`fuse`): {f(g['vote']['votes_per_s'])} on one core "
        f"({f(g['vote']['fuse_s'])} per vote).",
    ]
    a = g["added_latency_s"]
    if isinstance(a, dict) and "p50" in a:
        out.append(
            f"- Added latency of the gateway (answer − slowest board round trip): p50 "
            f"{f(a['p50'])}, p99 {f(a['p99'])}."
        )
    else:
        out.append(f"- Added latency: not measured ({a})")
    return out + [""]


def markdown(r: dict) -> str:
    m, g, c = r["machine"], r["git"], r["config"]
    head = [
        "# vp-edge bench report",
        "",
        "Tags: **[M]** measured here, **[Mod]** modelled from measured inputs and the stated "
        "assumptions, **[P]** quoted from the VP paper (arXiv 2210.08376).",
        "",
        f"Run `{c['run']}`, mode {c['mode']}, k={c['k']}, repeats {c['repeats']}, "
        f"seed {c['seed']}. Machine: {m['cpu_model']} ({m['cpu_count']} CPUs), "
        f"{m['platform']}, Python {m['python']}, load at start {m['loadavg_at_start']}. "
        f"Git {g['revision']}{' (dirty)' if g['dirty'] else ''}.",
        "",
    ]
    checks = (
        ["## Checks", ""]
        + [f"- {k}: {'yes' if v else 'NO'}" for k, v in r["checks"].items()]
        + [""]
    )
    plots = ["## Plots", ""] + [f"![{p}]({p})" for p in r.get("plots", [])] + [""]
    body = _cost(r) + response(r) + _comm(r) + _failures(r) + _gateway_cost(r) + _paper(r)
    return "\n".join(head + checks + body + plots) + "\n"


def plot_all(r: dict, out: Path) -> list[Path]:
    """PNG plots; none when matplotlib is missing (the report says so by listing none)."""
    try:
        from experiments.bench.plots import plots
    except ImportError:
        return []
    return plots(r, out)
