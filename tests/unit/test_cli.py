"""The CLI: a manual in --help, errors as one line and an exit code, never a traceback."""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import pytest

from vp_edge.cli import COMMANDS, PLUGIN_GROUP, build_parser, main
from vp_edge.family import load_family


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for name in ("train", "convert", "evaluate", "demo", "family"):
        assert name in out
    assert "exit codes" in out


def test_every_listed_command_is_registered():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    plugins = {ep.name for ep in entry_points(group=PLUGIN_GROUP)}
    assert {"demo", "bench"} <= plugins  # the measuring commands, registered from experiments
    listed = {c.partition(":")[0] for c in COMMANDS} | plugins
    assert {p.prog.split()[-1] for p in sub.choices.values()} <= listed
    assert {
        "train",
        "convert",
        "evaluate",
        "demo",
        "family",
        "pack",
        "benchmark",
        "devices",
        "monitor",
        "logs",
    } <= set(sub.choices)


def test_user_mistakes_are_one_line_errors(capsys, tmp_path):
    assert main(["train", "--family", "nope", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vp-edge: error: family 'nope'") and "Traceback" not in err
    assert main(["convert", "--run", str(tmp_path / "missing")]) == 2
    assert "run 'vp-edge train' first" in capsys.readouterr().err


def test_family_show_writes_an_editable_family_file(tmp_path, capsys):
    path = tmp_path / "fam.json"
    assert main(["family", "show", "tiny", "--json", str(path)]) == 0
    assert json.loads(path.read_text())["name"] == "tiny"
    assert load_family(path) == load_family("tiny")


@pytest.mark.parametrize(
    ("flags", "out", "epochs", "train_limit"),
    [
        ([], "runs/demo", 2, 18000),
        (["--quick"], "runs/quick", 1, 6000),
        (["--long"], "runs/long", 5, None),
        (["--long", "--epochs", "7"], "runs/long", 7, None),
        (["--long", "--augment"], "runs/long", 5, None),
    ],
)
def test_demo_budgets(monkeypatch, flags, out, epochs, train_limit):
    """--quick / default / --long pick a budget and a run directory; overrides apply on top."""
    import experiments.demo

    seen = {}

    def fake_run_demo(path, budget, live=True, show=True):
        seen.update(out=str(path), budget=budget)
        raise SystemExit(0)

    monkeypatch.setattr(experiments.demo, "run_demo", fake_run_demo)
    with pytest.raises(SystemExit):
        main(["demo", *flags])
    assert seen["out"] == out
    assert (seen["budget"].epochs, seen["budget"].train_limit) == (epochs, train_limit)
    assert seen["budget"].augment == ("--augment" in flags)
    # each budget's best recipe (README, recipe study): the alpha 0.4 family, plain joint loss
    assert (seen["budget"].family, seen["budget"].ncl_weight) == ("fashion", 0.0)


def test_demo_quick_and_long_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as e:
        main(["demo", "--quick", "--long"])
    assert e.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
