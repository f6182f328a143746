"""``run_bench``: every section of the bench over one converted run, into report.{json,md}+PNGs.

Sections: model cost, response time (host engines measured; MCU from QEMU instruction counts;
composed VP vs baseline modelled; end to end through the gateway measured), communication,
failures, gateway cost, and what is needed to repeat the numbers (machine, git, settings).
The gateway and QEMU parts need emulated boards and a toolchain; when they cannot run, the
section says why and the rest of the report stands.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from experiments.bench.context import BenchContext, git_revision, load_context, machine
from experiments.bench.figures import fig, untagged_numbers, value, walk_figs

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Budget:
    """How much of each measurement a mode takes."""

    repeats: int
    min_run_s: float
    mc_rounds: int
    gateway_images: int
    gateway_rate_hz: float
    kill_images: int
    #: "all", "smallest" (others extrapolated from instructions per MAC) or "none"
    qemu_models: str
    fault_images: int  # requests per p for fault injection through the gateway
    fault_grid: tuple[float, ...]


BUDGETS = {
    "quick": Budget(3, 0.01, 1, 12, 25.0, 8, "none", 10, (0.2, 0.5)),
    "full": Budget(5, 0.2, 5, 200, 10.0, 200, "all", 100, (0.1, 0.3, 0.5)),
}


@dataclass
class BenchConfig:
    run: Path
    out: Path = Path("bench/results")
    quick: bool = False
    repeats: int | None = None
    k: int = 2
    seed: int = 0
    test_limit: int | None = None
    live: bool = True
    qemu: bool = True
    paper_scale: bool = True
    plots: bool = True
    show: bool = True
    budget: Budget = field(init=False)

    def __post_init__(self) -> None:
        b = BUDGETS["quick" if self.quick else "full"]
        if self.repeats is not None:
            b = Budget(**{**asdict(b), "repeats": max(1, self.repeats)})
        self.budget = b


def _optional(name: str, fn, timings: dict):
    """Run an integration part; on failure record why instead of losing the whole report."""
    t0 = time.monotonic()
    try:
        return fn()
    except Exception as e:
        LOG.warning("bench %s failed: %s", name, e)
        return {"error": f"{type(e).__name__}: {e}"[:500]}
    finally:
        timings[name] = fig(time.monotonic() - t0, "measured", "s", "wall time of this part")


def _qemu(ctx: BenchContext, budget: Budget) -> dict:
    from experiments.bench import mcu

    if budget.qemu_models == "none":
        return {
            "skipped": "quick mode (flashing and running in QEMU takes about a minute per "
            "variant); the full bench runs it"
        }
    why = mcu.qemu_available()
    if why:
        return {"skipped": why}
    if budget.qemu_models == "smallest":
        keep = min(ctx.variants, key=lambda v: ctx.cards[v]["macs"])
        return _extrapolate(ctx, mcu.instruction_counts(_only(ctx, keep)))
    return mcu.instruction_counts(ctx)


def _only(ctx: BenchContext, keep: str) -> BenchContext:
    """A view of the context whose QEMU pass runs only ``keep`` (no baseline)."""
    from dataclasses import replace as dc_replace

    fam = dc_replace(ctx.family, variants=tuple(v for v in ctx.family.variants if v.name == keep))
    cards = {keep: ctx.cards[keep]}
    return BenchContext(ctx.run, fam, cards, ctx.test, ctx.outputs, ctx.k)


def _extrapolate(ctx: BenchContext, rows: dict) -> dict:
    ipm = rows.get("_instructions_per_mac", {}).get("median")
    if ipm is None:
        return rows
    for name in ctx.variants + (["baseline"] if ctx.has_baseline else []):
        if "instructions" not in rows.get(name, {}):
            rows[name] = {
                "instructions": fig(
                    value(ipm) * ctx.cards[name]["macs"],
                    "modelled",
                    "instr",
                    "quick mode: instructions/MAC of the smallest variant x MACs",
                )
            }
    return rows


def _paper(ctx: BenchContext, cfg: BenchConfig) -> dict:
    import importlib.util

    from experiments.bench import paper

    if importlib.util.find_spec("tensorflow") is None:
        return {
            "skipped": "building the 224x224 graphs needs TensorFlow: pip install 'vp-edge[train]'"
        }
    return paper.paper_scale(
        ctx.run, ctx.family.num_classes, ctx.k, cfg.quick, cfg.budget.repeats, cfg.budget.min_run_s
    )


def run_bench(cfg: BenchConfig) -> dict:
    """Measure, model, write ``report.json``, ``report.md`` and PNGs into ``cfg.out``."""
    from experiments.bench import comm as comm_mod
    from experiments.bench import cost, failures, response, timing

    t0 = time.monotonic()
    b = cfg.budget
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict = {}
    ctx = load_context(Path(cfg.run), cfg.k, cfg.test_limit, cfg.show)
    report = _header(cfg, ctx)
    report["model_cost"] = cost.model_cost(ctx)
    comm = comm_mod.communication(ctx)
    t1 = time.monotonic()
    compute = timing.compute_times(ctx, b.repeats, b.min_run_s)
    vote = timing.vote_time(ctx, b.repeats)
    timings["compute"] = fig(time.monotonic() - t1, "measured", "s", "wall time of this part")
    # timed before any emulated board process exists, like the compute figures above
    paper = (
        _optional("paper_scale", lambda: _paper(ctx, cfg), timings)
        if cfg.paper_scale
        else {"skipped": "--no-paper-scale"}
    )
    mcu = (
        _optional("qemu", lambda: _qemu(ctx, b), timings) if cfg.qemu else {"skipped": "--no-qemu"}
    )
    mcu_ok = mcu if "instructions" in str(mcu) and "error" not in mcu else None
    gw = _live(ctx, cfg, timings) if cfg.live else {"skipped": "--no-live"}
    report["response_time"] = {
        "compute": compute,
        "mcu_qemu": mcu,
        "composed": response.response_times(ctx, compute, mcu_ok, vote, comm),
        "gateway": gw,
    }
    report["communication"] = comm
    report["paper_scale"] = paper
    report["failures"] = failures.failures(ctx, b.mc_rounds, cfg.seed)
    report["failures"]["gateway_m_alive"] = gw.get("m_alive") if "error" not in gw else gw
    report["failures"]["gateway_fault_injection"] = (
        gw.get("fault_injection") if "error" not in gw else gw
    )
    report["gateway_cost"] = {
        "vote": vote,
        "added_latency_s": gw.get("vp", {}).get("added_latency_s", gw),
    }
    report["checks"] = checks(report)
    timings["total"] = fig(time.monotonic() - t0, "measured", "s", "whole bench")
    report["timings"] = timings
    report["untagged"] = untagged_numbers(report)
    write_report(report, out, cfg.plots)
    return report


def _header(cfg: BenchConfig, ctx: BenchContext) -> dict:
    """The report's settings, machine and revision."""
    return {
        "config": {
            "run": str(cfg.run),
            "mode": "quick" if cfg.quick else "full",
            "k": ctx.k,
            "seed": cfg.seed,
            **asdict(cfg.budget),
            "live": cfg.live,
            "qemu": cfg.qemu,
            "variants": ctx.variants,
            "baseline": ctx.has_baseline,
        },
        "machine": machine(),
        "git": git_revision(),
    }


def _live(ctx: BenchContext, cfg: BenchConfig, timings: dict) -> dict:
    """The end-to-end figures through the gateway on emulated boards (or why not)."""
    from experiments.bench.live import gateway_bench

    b = cfg.budget
    # deployment files, keys and board state stay out of the (committed) report folder
    with tempfile.TemporaryDirectory(prefix="vp-bench-deploy-") as tmp:
        return _optional(
            "gateway",
            lambda: gateway_bench(
                ctx,
                Path(tmp),
                b.gateway_images,
                b.gateway_rate_hz,
                b.kill_images,
                fault_images=b.fault_images,
                fault_grid=b.fault_grid,
                seed=cfg.seed,
            ),
            timings,
        )


def checks(r: dict) -> dict:
    """The claims, as booleans computed from the figures above (not asserted: reported)."""
    c: dict = {}
    comm = r["communication"]
    if "mp" in comm:
        c["vp_result_bytes_below_mp_cheapest_cut"] = value(
            comm["vp"]["result_total_udp_bytes"]
        ) < value(comm["mp"]["cheapest"]["activation_bytes"])
        c["vp_100x_below_mp_at_this_scale"] = value(comm["mp"]["ratio_vs_vp_total"]) >= 100
        c["vp_100x_below_mp_at_this_scale_per_board"] = (
            value(comm["mp"]["ratio_vs_vp_board"]) >= 100
        )
    ps = r.get("paper_scale", {})
    if "ratio_per_board" in ps:
        c["vp_100x_below_mp_at_224_per_board"] = value(ps["ratio_per_board"]) >= 100
        c["vp_100x_below_mp_at_224_same_device_count"] = value(ps["ratio_same_devices"]) >= 100
        c["vp_100x_below_mp_at_224_all_boards_vs_one_cut"] = value(ps["ratio_all_boards"]) >= 100
        c["vp_faster_at_224"] = value(ps["compute_ratio_slowest"]) > 1
    fails = r["failures"]["availability"]
    c["availability_vp_at_least_mp"] = all(
        value(a["analytic"]["vp"]) >= value(a["analytic"]["mp"]) for a in fails
    )
    cost = r["model_cost"]
    if "macs_ratio_range" in cost:
        c["every_variant_cheaper_than_baseline"] = value(cost["macs_ratio_range"]["low"]) > 1
    comp = r["response_time"]["composed"]
    if comp.get("ratio_range"):
        c["vp_faster_in_every_scenario"] = value(comp["ratio_range"]["low"]) > 1
    return c


def write_report(report: dict, out: Path, plots: bool) -> None:
    from experiments.bench.report import markdown, plot_all

    report["plots"] = [str(p.name) for p in plot_all(report, out)] if plots else []
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "report.md").write_text(markdown(report))


def figure_kinds(report: dict) -> dict[str, int]:
    """How many figures of each kind the report holds."""
    counts: dict[str, int] = {}
    for _, f in walk_figs(report):
        counts[f["kind"]] = counts.get(f["kind"], 0) + 1
    return counts
