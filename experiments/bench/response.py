"""Section 2, response time on atomic inputs: VP = max over boards of (link in + compute + link
out) + vote; baseline = its own link in + compute + link out on one board of the same kind.

Compute times are measured (host engines) or modelled from QEMU instruction counts at a board
profile's clock; link times are modelled from the INFER and RESULT frames' bytes (10 bits per
byte on a UART, frame bytes at a nominal network rate). The composed response times are
therefore *modelled*; the gateway section has the end-to-end *measured* counterpart.
"""

from __future__ import annotations

from experiments.bench.comm import BAUD, WIFI_BPS, net_s, result_bytes, uart_s
from experiments.bench.context import BenchContext
from experiments.bench.cost import paper_range
from experiments.bench.figures import fig, fig_range, value
from experiments.bench.mcu import CPI, mcu_seconds
from vp_edge.train import BASELINE

#: board profiles whose clock turns instructions into time, with their UART rate
MCU_PROFILES = ("cortex-m4", "esp32-s3")


def _links(ctx: BenchContext, comm: dict) -> dict[str, dict[str, tuple[float, float]]]:
    """link -> model -> (seconds in, seconds out)."""
    rb = result_bytes(ctx.k)
    infer = {b["name"]: b for b in comm["vp"]["boards"]}
    if comm["vp"]["baseline_input"]:
        infer[BASELINE] = comm["vp"]["baseline_input"]
    out: dict[str, dict[str, tuple[float, float]]] = {"uart_115200": {}, "wifi_20mbps": {}}
    for name in ctx.variants + ([BASELINE] if ctx.has_baseline else []):
        b = infer[name]
        out["uart_115200"][name] = (
            uart_s(value(b["infer_serial_bytes"]), BAUD),
            uart_s(rb["serial"], BAUD),
        )
        out["wifi_20mbps"][name] = (
            net_s(value(b["infer_udp_bytes"]), WIFI_BPS),
            net_s(rb["udp"], WIFI_BPS),
        )
    return out


def compose(
    ctx: BenchContext,
    compute: dict[str, float],
    link: dict[str, tuple[float, float]],
    vote_s: float,
    how: str,
) -> dict:
    """VP and baseline response times for one kind of board and one link (modelled)."""
    per = {v: link[v][0] + compute[v] + link[v][1] for v in ctx.variants if v in compute}
    if len(per) < len(ctx.variants):
        return {"error": "not every variant has a compute time"}
    slowest = max(per, key=per.get)
    vp = per[slowest] + vote_s
    row = {
        "vp_s": fig(vp, "modelled", "s", f"max over boards of link+compute+link, + vote; {how}"),
        "slowest_board": slowest,
        "boards_s": {v: fig(t, "modelled", "s", how) for v, t in per.items()},
    }
    if BASELINE in compute:
        b = link[BASELINE][0] + compute[BASELINE] + link[BASELINE][1]
        row["baseline_s"] = fig(b, "modelled", "s", f"link+compute+link on one board; {how}")
        row["ratio"] = fig(b / vp, "modelled", "x", "baseline / VP")
    return row


def _fits(profile, card: dict) -> bool:
    """Whether the model fits the profile's RAM and flash (the baseline often does not)."""
    return (
        card["arena_bytes"] <= profile.arena_limit and card["tflite_bytes"] <= profile.model_limit
    )


def response_times(
    ctx: BenchContext, compute: dict, mcu: dict | None, vote: dict, comm: dict
) -> dict:
    """Every (engine or MCU profile) x link combination, plus compute-only ratios."""

    links = _links(ctx, comm)
    vote_s = value(vote["fuse_s"])
    rows: dict[str, dict] = {}
    for engine, models in compute.items():
        c = {m: value(r["compute_s"]) for m, r in models.items() if "compute_s" in r}
        if BASELINE in c and all(v in c for v in ctx.variants):
            slow = max(c[v] for v in ctx.variants)
            rows[f"{engine}/compute_only"] = {
                "ratio": fig(
                    c[BASELINE] / slow,
                    "measured",
                    "x",
                    f"{engine}: baseline compute / slowest variant compute",
                )
            }
        for link, lt in links.items():
            rows[f"{engine}/{link}"] = compose(
                ctx, c, lt, vote_s, f"{engine} compute measured here, {link} modelled"
            )
    if mcu:
        rows.update(_mcu_rows(ctx, mcu, links["uart_115200"], vote_s))
    composed = [
        value(r["ratio"])
        for n, r in rows.items()
        if "ratio" in r and not n.endswith("compute_only")
    ]
    alone = [value(r["ratio"]) for n, r in rows.items() if n.endswith("compute_only")]
    return {
        "scenarios": rows,
        "ratio_range": fig_range(composed, "modelled", "composed scenarios (engine x link)"),
        "compute_ratio_range": fig_range(alone, "measured", "compute only, host engines"),
        "paper": paper_range("response_ratio"),
        "assumptions": {
            "uart_bits_per_byte": 10,
            "wifi_bits_per_s": WIFI_BPS,
            "mcu_cpi": CPI,
            "boards_in_parallel": True,
            "links": "one link per board, in parallel",
        },
    }


def _mcu_rows(ctx: BenchContext, mcu: dict, uart: dict, vote_s: float) -> dict[str, dict]:
    """One composed row per MCU profile: QEMU instructions at its clock, the UART at its baud
    (scaled from the 115200-baud link times ``uart``)."""
    from boards.profiles import PROFILES

    rows: dict[str, dict] = {}
    for prof in MCU_PROFILES:
        p = PROFILES[prof]
        c = {
            m: mcu_seconds(value(r["instructions"]), p.clock_hz)
            for m, r in mcu.items()
            if not m.startswith("_") and "instructions" in r
        }
        lt = {m: (t_in * BAUD / p.baud, t_out * BAUD / p.baud) for m, (t_in, t_out) in uart.items()}
        row = compose(
            ctx,
            c,
            lt,
            vote_s,
            f"QEMU instructions x CPI {CPI:g} / {p.clock_hz / 1e6:g} MHz, UART {p.baud} baud",
        )
        row["fits_profile"] = {m: _fits(p, ctx.cards[m]) for m in c}
        rows[f"mcu-{prof}/uart_{p.baud}"] = row
    return rows
