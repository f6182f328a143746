"""Which card goes with a model a board reports: the card index of a deployment.

A board's HELLO names the SHA-256 of the artefact it runs; the gateway must then quantise its
input, read its scores and weigh its vote with *that* model's card, not with the card of the
variant the deployment file assigned to the board. The index answers ``find(sha)`` from

1. the cards of the deployment's run (by their ``tflite_sha256``, and by the hash of the
   ``.vpw`` packed beside each), and
2. the cards registered in the deployment's state folder (``STATE_DIR/cards/<sha>.json``):
   ``vp-edge flash`` and ``vp-edge rollout`` register the card of every artefact they send,
   so a board that reboots into a model of another run is re-learnt by the running gateway.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from converters.card import read_card
from converters.rundir import RunDir
from vp_edge.errors import ConversionError

if TYPE_CHECKING:  # pragma: no cover
    from firmware_bridge.protocol import Hello


def cards_dir(state_dir: Path) -> Path:
    return state_dir / "cards"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def card_beside(data: bytes, path: str | os.PathLike[str]) -> dict | None:
    """The card next to a model file (``NAME.json`` beside ``NAME.tflite`` or ``NAME.vpw``)
    when it describes these bytes: the .tflite's hash, or the .vpw's quantisation."""
    card_path = Path(path).with_suffix(".json")
    if not card_path.exists():
        return None
    card = read_card(card_path)
    if data[4:8] == b"TFL3":
        return card if card.get("tflite_sha256") == sha256_hex(data) else None
    if data[:4] == b"VPW1" and vpw_matches(data, card):
        return card
    return None


def vpw_matches(data: bytes, card: dict) -> bool:
    """Whether a .vpw was packed from the model of ``card`` (same shapes and quantisation)."""
    from converters.vpw_format import read_vpw

    try:
        model = read_vpw(data)
    except ConversionError:
        return False
    h = model.header
    return (
        list(model.input_shape) == list(card["input_shape"])
        and int(h["out_zp"]) == card["output_zero_point"]
        and abs(float(h["out_scale"]) - card["output_scale"]) <= 1e-6 * card["output_scale"]
    )


def register_card(state_dir: Path, sha: str, card: dict) -> Path:
    """Make ``card`` the card of the artefact with hash ``sha`` for this deployment's gateway."""
    folder = cards_dir(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sha}.json"
    tmp = path.with_name(f".{sha}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**card, "artefact_sha256": sha}, indent=1))
    os.replace(tmp, path)
    return path


class CardIndex:
    """Cards by artefact hash for one deployment (its run, then its registered cards)."""

    def __init__(self, run: Path, state_dir: Path, cards: dict[str, dict]) -> None:
        self.state_dir = state_dir
        self.by_sha: dict[str, dict] = {}
        for name, card in cards.items():
            self.by_sha[card["tflite_sha256"]] = card
            vpw = RunDir(run).vpw(name)
            if vpw.exists():
                self.by_sha[sha256_hex(vpw.read_bytes())] = card

    def find(self, sha: str) -> dict | None:
        """The card of the artefact ``sha``, or None when nobody registered one."""
        card = self.by_sha.get(sha)
        if card is None:
            path = cards_dir(self.state_dir) / f"{sha}.json"
            if path.exists():
                try:
                    card = read_card(path)
                except ConversionError:
                    return None
                self.by_sha[sha] = card
        return card


def hello_problems(card: dict, hello: Hello, k: int, class_names: list[str]) -> list[str]:
    """What a board's HELLO says that its model's card contradicts (empty: it may vote)."""
    import math

    h = hello
    facts = {
        "k": (h.k, k),
        "num_classes": (h.num_classes, len(class_names)),
        "input_bytes": (h.input_bytes, math.prod(card["input_shape"][1:])),
        "score_zero_point": (h.score_zero_point, card["output_zero_point"]),
        "class_names": (list(card.get("class_names", class_names)), list(class_names)),
    }
    bad = [f"{name} {got} (expected {exp})" for name, (got, exp) in facts.items() if got != exp]
    if not math.isclose(h.score_scale, card["output_scale"], rel_tol=1e-6):
        bad.append(f"score_scale {h.score_scale} (expected {card['output_scale']})")
    return bad
