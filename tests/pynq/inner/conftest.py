"""Fixtures for the PYNQ tests (run in .venv-pynq against the simulated device).

Models: every .vpw in $VP_PYNQ_VPW_DIR (the main suite packs them) plus tests/pynq/data/tiny.vpw.
Value counts go to $VP_PYNQ_COUNT_FILE when set, so the main suite can report them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("pynq")
DATA = Path(__file__).resolve().parent.parent / "data"


def _models() -> list[Path]:
    extra = os.environ.get("VP_PYNQ_VPW_DIR")
    found = sorted(Path(extra).glob("*.vpw")) if extra else []
    return [DATA / "tiny.vpw", *found]


@pytest.fixture(params=_models(), ids=lambda p: p.stem)
def vpw(request: pytest.FixtureRequest) -> bytes:
    return request.param.read_bytes()


@pytest.fixture(scope="session")
def tiny() -> bytes:
    return (DATA / "tiny.vpw").read_bytes()


@pytest.fixture(scope="session")
def counts():
    acc: dict[str, int] = {}
    yield acc
    path = os.environ.get("VP_PYNQ_COUNT_FILE")
    if path:
        Path(path).write_text(json.dumps(acc))
