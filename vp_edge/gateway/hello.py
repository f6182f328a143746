"""A board's HELLO at the gateway: which card it votes under, or why it cannot vote.

The card is found by the model's hash (the run's, or one ``flash``/``rollout`` registered), so a
board that rebooted into a new model is re-learnt without a gateway restart; its answers still
in flight under the old model are void.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import firmware_bridge as fb
from vp_edge.cards import CardIndex, hello_problems
from vp_edge.gateway.answer import Board
from vp_edge.gateway.parts import Gateway as PartGateway
from vp_edge.gateway.parts import check_part_hello
from vp_edge.gateway.tally import Pending

if TYPE_CHECKING:  # pragma: no cover
    from vp_edge.deployment import Deployment


class HelloCheck:
    """The ``Gateway``'s HELLO half (a mixin: it uses the gateway's cards, weights, strategy
    and pending requests)."""

    # what the gateway that mixes this in provides
    dep: Deployment
    strategy: Any
    cards: dict[str, dict]
    card_index: CardIndex
    class_names: list[str]
    vote_cards: dict[str, dict]
    weights: dict[str, float] | None
    _pending: dict[int, Pending]

    @staticmethod
    def _maybe_done(req: Pending) -> None:
        raise NotImplementedError  # the gateway's own

    def _on_hello(self, b: Board, hello: fb.Hello) -> None:
        problem = self._check_hello(b, hello)
        b.hello = hello  # what it runs, shown also when refused
        if problem:
            b.refused, b.up = problem, False
            return
        b.refused, b.stats.heartbeats_down = None, 0
        if not b.up:
            b.stats.rejoins += int(b.stats.ever_up)
            b.up, b.consecutive, b.stats.ever_up = True, 0, True
            b.down_why = None

    def _check_hello(self, b: Board, h: fb.Hello) -> str | None:
        """Why ``b`` cannot vote with the model its HELLO names, or None after adopting that
        model's card (found by hash: the run's, or one ``flash``/``rollout`` registered), so a
        board that rebooted into a new model is re-learnt without a gateway restart."""
        spec = b.spec
        if self.strategy is not None:
            return check_part_hello(cast(PartGateway, self), spec.name, spec.variant, h)
        sha = h.model_sha256.hex()
        card = self.card_index.find(sha)
        if card is None:
            return (
                f"board {spec.name} runs model {sha[:16]}..., which has no card here (not "
                f"a model of {self.dep.run}, and no 'vp-edge flash --deployment' registered "
                "one): flash it through the deployment, or re-convert its run"
            )
        bad = hello_problems(card, h, self.dep.k, self.class_names)
        if bad:
            return f"board {spec.name} cannot vote with model {card['name']}: {'; '.join(bad)}"
        own = self.cards.get(card["name"]) is card
        model = card["name"] if own else f"{card['name']}@{sha[:12]}"
        if b.model and model != b.model:  # switched models: its answers in flight are void
            for req in self._pending.values():
                if spec.name in req.targets and spec.name not in req.results:
                    req.failed.add(spec.name)
                    self._maybe_done(req)
        b.card, b.model = card, model
        if b.model not in self.vote_cards:
            self.vote_cards[b.model] = card
            if self.weights is not None:
                self.weights[b.model] = float(
                    card.get("vote_weight") or self.weights.get(card["name"], 1.0)
                )
        return None
