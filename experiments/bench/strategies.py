"""``vp-edge bench --strategies``: VP, MP, CP, LCP and DISCO side by side, same data and budget.

The converted VP run given with ``--run`` fixes the data and the budget (epochs, training
images, batch, learning rate, seed: its train.json); every other strategy is trained with the
same ones by the user's own commands (``vp-edge train --strategy S`` and ``vp-edge convert``)
into ``<run>/strategies/<name>`` (kept, so a second bench reuses them), DISCO once per
sparsity level. Then, per strategy:

- **offline** (``vp_edge.strategies.figures``): int8 accuracy, devices, params / MACs / arena
  per device, accuracy with each single part dropped; for DISCO the keep curve;
- **traced** (here): the plan's steps on test images with each part's host compute time and
  the frames its tensors need (the real codec), composed into response times for a UART and
  a Wi-Fi link (modelled: boards in parallel, one link each, through the gateway);
- **live** (``strategies_live``): emulated Linux boards (one per part) behind the gateway;
  live answers against offline ones, bytes and messages per inference counted from frames,
  latency, every single device killed, every set of N-1 killed, per-device failure p.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import firmware_bridge as fb
from experiments.bench.comm import BAUD, WIFI_BPS, net_s, serial_size, uart_s
from experiments.bench.figures import fig, untagged_numbers

ORDER = ("vp", "mp", "cp", "lcp", "disco")
KEY = b"vp-edge bench key"  # any key: only frame sizes matter here


@dataclass(frozen=True)
class StudyConfig:
    run: Path
    out: Path = Path("bench/results")
    runs: Path | None = None
    keeps: tuple[float, ...] = (1.0, 0.5, 0.25, 0.1)
    live_keep: float = 0.25
    images: int = 1000
    trace_images: int = 20
    live_images: int = 100
    kill_images: int = 30
    fault_images: int = 100
    fault_grid: tuple[float, ...] = (0.1, 0.3)
    deadline_ms: float = 1000.0
    seed: int = 0
    live: bool = True
    plots: bool = True
    show: bool = True

    @property
    def strategy_runs(self) -> Path:
        return self.runs or Path(self.run) / "strategies"


def budget_args(run: Path) -> list[str]:
    """The VP run's budget and data as ``vp-edge train`` options."""
    from vp_edge.train import load_data_args

    c = json.loads((Path(run) / "train.json").read_text())["config"]
    args = [
        "--epochs",
        str(c["epochs"]),
        "--batch-size",
        str(c["batch_size"]),
        "--lr",
        str(c["learning_rate"]),
        "--seed",
        str(c["seed"]),
    ]
    if c.get("train_limit"):
        args += ["--train-limit", str(c["train_limit"])]
    data = load_data_args(run)
    if data.get("source"):
        args += ["--data", str(data["source"])]
    if data.get("val_fraction") is not None:
        args += ["--val-fraction", str(data["val_fraction"])]
    family = Path(run) / "family.json"
    return args + (["--family", str(family)] if family.exists() else [])


def _cli(args: list[str], log: Path) -> None:
    with log.open("w") as fh:
        done = subprocess.run(
            [sys.executable, "-m", "vp_edge", *args],
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode:
        tail = log.read_text()[-600:]
        raise RuntimeError(
            f"vp-edge {' '.join(args[:3])} failed ({done.returncode}); log {log}:\n{tail}"
        )


def ensure_runs(cfg: StudyConfig) -> dict[str, Path]:
    """Train and convert every strategy at the VP run's budget (runs already made are kept)."""
    from vp_edge.strategies.base import write_strategy
    from vp_edge.strategies.vp import describe

    vp = Path(cfg.run)
    if not (vp / "strategy.json").exists():
        write_strategy(vp, describe(vp))
    base = cfg.strategy_runs
    base.mkdir(parents=True, exist_ok=True)
    wanted = {"mp": ["--strategy", "mp"], "cp": ["--strategy", "cp"], "lcp": ["--strategy", "lcp"]}
    wanted.update({f"disco-{k:g}": ["--strategy", "disco", "--keep", str(k)] for k in cfg.keeps})
    runs = {"vp": vp}
    budget = budget_args(vp)
    for i, (name, opts) in enumerate(wanted.items()):
        out = base / name
        if not (out / "strategy.json").exists():
            if cfg.show:
                print(
                    f"strategies: training {name} ({i + 1}/{len(wanted)}) into {out}",
                    file=sys.stderr,
                    flush=True,
                )
            _cli(["train", "--out", str(out), *budget, *opts], base / f"{name}-train.log")
            _cli(["convert", "--run", str(out)], base / f"{name}-convert.log")
        runs[name] = out
    return runs


# -- traced plans: step structure, host compute and frame bytes per call ------------------------
def _frames(msgs: list) -> tuple[int, int]:
    """UDP and serial bytes of messages sent as secure frames."""
    sender = fb.Sender(KEY, fb.Counter(1), board_id=1, from_gateway=True)
    frames = [sender.frame(m, 1) for m in msgs]
    return sum(len(f) for f in frames), sum(serial_size(len(f)) for f in frames)


def call_bytes(stage: int, n_in: int, n_out: int, reply: str) -> dict:
    """Frame bytes of one call: its request chunks and its reply (TENSOR chunks or RESULT)."""
    req = _frames(fb.split_infer_stage(bytes(n_in), stage))
    if reply == "tensor":
        rep = _frames(fb.split_tensor(bytes(n_out), 0))
    else:
        n = fb.result_frame_size(n_out)
        rep = (n, serial_size(n))
    return {"udp_to": req[0], "serial_to": req[1], "udp_from": rep[0], "serial_from": rep[1]}


def trace(strategy, images: np.ndarray, reply_k: dict[str, int]) -> dict:
    """Drive the plan offline on ``images``: per step the calls with bytes and median compute."""
    from vp_edge.strategies.base import call_part, drive, part_runner

    runners = {p.name: part_runner(p) for p in strategy.parts}
    replies = {p.name: p.reply for p in strategy.parts}
    first: list[list[dict]] = []
    times: list[list[float]] = []  # per image: every call's seconds, in call order
    gateway_s: list[float] = []
    for key, image in enumerate(images):
        steps: list[list[dict]] = []
        timed: list[float] = []

        def answer(c, key: int = key, timed: list = timed) -> np.ndarray:
            t0 = time.perf_counter()
            out = call_part(runners[c.part], key, c.stage, c.tensor)
            timed.append(time.perf_counter() - t0)
            return out

        def on_step(calls, outs, steps: list = steps) -> None:
            steps.append(
                [
                    {
                        "part": c.part,
                        "stage": int(c.stage),
                        "in": int(c.tensor.size),
                        "out": reply_k.get(c.part) or int(o.size),
                    }
                    for c, o in zip(calls, outs, strict=True)
                ]
            )

        t0 = time.perf_counter()
        drive(strategy.plan(image), answer, on_step=on_step)
        gateway_s.append(time.perf_counter() - t0 - sum(timed))
        first = first or steps
        times.append(timed)
    med = iter(np.median(np.asarray(times), axis=0).tolist())
    out = [
        [
            {
                **c,
                "compute_s": next(med),
                **call_bytes(c["stage"], c["in"], c["out"], replies[c["part"]]),
            }
            for c in step
        ]
        for step in first
    ]
    return {"steps": out, "gateway_s": float(np.median(gateway_s)), "images": len(images)}


def compose(traced: dict) -> dict:
    """Response time on atomic inputs per link: sum over steps of the slowest call (link to
    the board + compute + link back), plus the gateway's own work (modelled)."""
    links = {
        "uart_115200": lambda c: (uart_s(c["serial_to"], BAUD), uart_s(c["serial_from"], BAUD)),
        "wifi_20mbps": lambda c: (net_s(c["udp_to"], WIFI_BPS), net_s(c["udp_from"], WIFI_BPS)),
    }
    res = {}
    for name, link in links.items():
        total = traced["gateway_s"]
        for step in traced["steps"]:
            total += max(sum(link(c)) + c["compute_s"] for c in step)
        res[name] = fig(
            total,
            "modelled",
            "s",
            f"sum over {len(traced['steps'])} step(s) of "
            f"the slowest call (link in + host compute + link out) + gateway work; "
            f"{name.replace('_', ' ')}",
        )
    res["compute_only"] = fig(
        traced["gateway_s"] + sum(max(c["compute_s"] for c in s) for s in traced["steps"]),
        "measured",
        "s",
        "host compute of the critical path (LiteRT reference kernels, one thread) + gateway work",
    )
    return res


# -- the study --------------------------------------------------------------------------------
def _offline(runs: dict[str, Path], images: int) -> dict[str, dict]:
    from vp_edge.strategies.figures import strategy_figures

    return {name: strategy_figures(run, "test", images) for name, run in runs.items()}


def _tag(row: dict, images: int) -> dict:
    """An offline figures row with every number tagged."""
    how = f"offline, int8 parts on LiteRT reference kernels, {images} test images"
    t = row["tensor_bytes_per_inference"]
    out = {
        "accuracy": fig(row["accuracy"], "measured", "", how),
        "answer_rate": fig(row["answer_rate"], "measured", "", how),
        "devices": fig(row["devices"], "measured", "", "parts in strategy.json"),
        "tensor_bytes": fig(
            t["total"],
            "measured",
            "B",
            "int8 tensors sent and received per inference (no frame headers)",
        ),
        "calls": fig(row["calls_per_inference"], "measured", "", "calls per inference"),
    }
    for key in ("params", "macs", "arena_bytes"):
        out[f"max_{key}"] = fig(row[f"max_{key}"], "measured", "", "largest part, model card")
        out[key] = {p: fig(v, "measured", "", "model card") for p, v in row[key].items()}
    out["drop_one"] = {
        p: {
            "accuracy": fig(d["accuracy"], "measured", "", how + ", part answering None"),
            "answer_rate": fig(d["answer_rate"], "measured", "", how),
        }
        for p, d in row.get("drop_one", {}).items()
    }
    if "disco_exchange" in row:
        ex = row["disco_exchange"]
        out["exchange_bytes"] = fig(
            ex["total"],
            "measured",
            "B",
            "node-to-node activation bytes per inference (int8, both nodes)",
        )
        out["exchange_per_layer"] = [
            fig(b, "measured", "B", f"after layer {i}") for i, b in enumerate(ex["per_layer"])
        ]
    out["options"] = row.get("options", {})
    return out


def disco_curve(rows: dict[str, dict]) -> list[dict]:
    """Accuracy and exchanged bytes over the keep levels, relative to keep = 1.0."""
    levels = sorted(
        ((r["options"]["keep"], r) for n, r in rows.items() if n.startswith("disco-")), reverse=True
    )
    if not levels:
        return []
    plain = dict(levels).get(1.0) or levels[0][1]
    out = []
    for keep, r in levels:
        ex, ex0 = r["exchange_bytes"]["value"], plain["exchange_bytes"]["value"]
        out.append(
            {
                "keep": keep,
                "accuracy": r["accuracy"],
                "exchange_bytes": r["exchange_bytes"],
                "reduction": fig(
                    ex0 / ex if ex else None,
                    "measured",
                    "x",
                    "exchange bytes at keep 1.0 / at this keep",
                ),
                "accuracy_change_points": fig(
                    100 * (r["accuracy"]["value"] - plain["accuracy"]["value"]),
                    "measured",
                    "points",
                    "accuracy minus the accuracy at keep 1.0",
                ),
            }
        )
    return out


def run_study(cfg: StudyConfig) -> dict:
    """Train what is missing, measure every strategy, write strategies.{json,md} and plots."""
    from experiments.bench.context import git_revision, machine
    from experiments.bench.strategies_report import write
    from vp_edge.convert import load_run_data
    from vp_edge.strategies.base import load_strategy
    from vp_edge.train import load_run_family

    t0 = time.monotonic()
    runs = ensure_runs(cfg)
    rows = {n: _tag(r, cfg.images) for n, r in _offline(runs, cfg.images).items()}
    live_name = f"disco-{cfg.live_keep:g}"
    main = {n: (runs[live_name] if n == "disco" else runs[n]) for n in ORDER}
    test = load_run_data(cfg.run, load_run_family(cfg.run)).test
    report: dict = {
        "config": {
            **{k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
            "runs": {n: str(p) for n, p in runs.items()},
            "budget": budget_args(cfg.run),
        },
        "machine": machine(),
        "git": git_revision(),
        "offline": rows,
        "disco_curve": disco_curve(rows),
        "composed": {},
        "live": {},
    }
    for name, run in main.items():
        s = load_strategy(run)
        k = {p.name: p.k for p in s.parts if p.reply == "scores"}
        traced = trace(s, test.x[: cfg.trace_images], k)
        report["composed"][name] = {
            "steps": len(traced["steps"]),
            **compose(traced),
            "calls": traced["steps"],
        }
    if cfg.live:
        from experiments.bench.strategies_live import live_all

        report["live"] = live_all(main, test, cfg)
    report["wall_s"] = fig(time.monotonic() - t0, "measured", "s", "whole strategies bench")
    report["untagged"] = untagged_numbers(
        {k: v for k, v in report.items() if k not in ("config", "composed")}
    )
    write(report, Path(cfg.out), cfg.plots)
    return report
