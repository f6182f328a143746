"""Section 2 of the bench report: response time on atomic inputs (batch 1).

Four parts, each from its own block of ``report["response_time"]``: compute per engine, the
Cortex-M4 firmware's instruction counts in QEMU, the composed VP-vs-baseline model, and the
end-to-end figures through the gateway.
"""

from __future__ import annotations

from experiments.bench.mcu import cores_markdown
from experiments.bench.report_fmt import f, table


def response(r: dict) -> list[str]:
    """The section's Markdown lines."""
    rt = r["response_time"]
    out = [
        "## 2. Response time on atomic inputs (batch 1)",
        "",
        "### Compute per inference on this machine (median, measured)",
        "",
    ]
    out += _compute(rt["compute"])
    out += _mcu(rt["mcu_qemu"])
    out += _composed(rt["composed"])
    out += ["", "### End to end through the gateway (emulated boards, measured)", ""]
    out += _gateway(rt["gateway"], rt["composed"])
    return out + [""]


def _compute(compute: dict) -> list[str]:
    models = sorted({m for rows in compute.values() for m in rows})
    rows = [
        [e]
        + [
            f(compute[e].get(m, {}).get("compute_s"))
            if "compute_s" in compute[e].get(m, {})
            else compute[e].get(m, {}).get("error", "-")[:60]
            for m in models
        ]
        for e in compute
    ]
    return table(["engine"] + models, rows)


def _mcu(mcu: dict) -> list[str]:
    out = ["### Cortex-M4 firmware in QEMU (instruction counts)", ""]
    if any(k in mcu for k in ("skipped", "error")):
        return out + [f"Not run: {mcu.get('skipped') or mcu.get('error')}", ""]
    out += table(
        ["model", "instructions", "how"],
        [
            [
                m,
                f(v.get("instructions")),
                v.get("instructions", {}).get("how", "")
                + (
                    f" (QEMU run: {v.get('error') or v.get('skipped')})"
                    if "error" in v or "skipped" in v
                    else ""
                ),
            ]
            for m, v in mcu.items()
            if not m.startswith("_")
        ],
    )
    return out + cores_markdown(mcu)


def _composed(comp: dict) -> list[str]:
    out = ["### VP vs baseline: max over boards (link in + compute + link out) + vote", ""]
    rows = [
        [
            name,
            f(s.get("vp_s")),
            f(s.get("baseline_s")),
            f(s.get("ratio")),
            str(s.get("slowest_board", "")),
        ]
        for name, s in comp["scenarios"].items()
    ]
    out += table(["engine or MCU / link", "VP", "baseline", "baseline/VP", "slowest board"], rows)
    for name, sc in comp["scenarios"].items():
        misfits = [m for m, ok in sc.get("fits_profile", {}).items() if not ok]
        if misfits:
            out.append(
                f"- {name}: {', '.join(misfits)} do(es) not fit that board's RAM/flash "
                "(time shown as if it did)."
            )
    if comp.get("ratio_range"):
        out.append(
            f"Our ratio baseline/VP, composed: {f(comp['ratio_range']['low'])} – "
            f"{f(comp['ratio_range']['high'])}; paper: {f(comp['paper']['low'])} – "
            f"{f(comp['paper']['high'])}."
        )
    if comp.get("compute_ratio_range"):
        cr = comp["compute_ratio_range"]
        out.append(
            f"Compute alone (baseline / slowest variant, host engines): {f(cr['low'])} – "
            f"{f(cr['high'])}."
        )
    return out


def _gateway(gw: dict, comp: dict) -> list[str]:
    if "vp" not in gw:
        return [f"Not run: {gw.get('skipped') or gw.get('error')}", ""]
    cfg = gw["config"]
    out = [
        f"{cfg['images']} requests at {cfg['rate_hz']:g}/s, one in flight, "
        f"{cfg['kind']} boards over {cfg['link']}; all boards share this machine's "
        "cores, so VP is pessimistic here.",
        "",
    ]
    rows = [_latency_row("VP (all variants)", gw["vp"])]
    if "baseline" in gw:
        rows.append(_latency_row("baseline alone", gw["baseline"]))
    out += table(["deployment", "p50", "p99", "top-1"], rows)
    if "ratio_p50" in gw:
        out.append(f"Baseline/VP at p50: {f(gw['ratio_p50'])}.")
    return out + _gateway_mcu(gw.get("vp_mcu", {}), comp)


def _latency_row(name: str, d: dict) -> list[str]:
    return [name, f(d["latency_s"]["p50"]), f(d["latency_s"]["p99"]), f(d["accuracy"])]


def _gateway_mcu(mcu_gw: dict, comp: dict) -> list[str]:
    """The VP family on emulated MCU boards through the gateway, beside the composed model."""
    if "latency_s" in mcu_gw:
        modelled = comp["scenarios"].get("tflm/uart_115200", {}).get("vp_s")
        return [
            f"VP through the gateway, {mcu_gw['description']}"
            f": p50 {f(mcu_gw['latency_s']['p50'])}, p99 "
            f"{f(mcu_gw['latency_s']['p99'])}, top-1 {f(mcu_gw['accuracy'])}; "
            f"the composed model for tflm/uart_115200 gives {f(modelled)}. "
            f"Baseline: {mcu_gw['baseline']}."
        ]
    if mcu_gw:
        return [f"VP on emulated MCU boards: {mcu_gw.get('error')}"]
    return []
