"""``vp-edge convert``'s choice between a VP run and a strategy run, at the library level
(converters replaced: the choice and what is written, not the conversion, is tested here)."""

from __future__ import annotations

from pathlib import Path

import pytest

import vp_edge.convert as convert
import vp_edge.convert_run as convert_run
import vp_edge.strategies.base as base
import vp_edge.strategies.build as build
import vp_edge.strategies.vp as vp


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    seen: list[tuple] = []
    monkeypatch.setattr(
        build, "convert_strategy", lambda run, cal, show: seen.append(("s", cal)) or {"p": 1}
    )
    monkeypatch.setattr(
        convert,
        "convert_run",
        lambda run, cal, lim, show: seen.append(("v", cal, lim)) or {"a": {}},
    )
    monkeypatch.setattr(vp, "describe", lambda run: {"strategy": "vp"})
    monkeypatch.setattr(base, "write_strategy", lambda run, doc: seen.append(("w", doc)))
    return seen


def test_vp_run_gets_cards_and_strategy_json(calls: list, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "run_strategy_name", lambda run: "vp")
    assert convert_run.convert_any(Path("r"), 50, 10) == ("vp", {"a": {}})
    assert calls == [("v", 50, 10), ("w", {"strategy": "vp"})]


def test_strategy_run_gets_its_parts(calls: list, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "run_strategy_name", lambda run: "lcp")
    assert convert_run.convert_any(Path("r"), 50, 10) == ("strategy", {"p": 1})
    assert calls == [("s", 50)]
