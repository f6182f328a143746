"""Whether a trained model is near chance in inference mode, and the likely cause: after
training such a model is an error (``vp_edge.train.train``), not a warning before conversion."""

from __future__ import annotations


def chance_warnings(state: dict, num_classes: int) -> list[str]:
    """Per model whose best validation accuracy (in inference mode, what is converted) is near
    chance, the figures and the likely cause: it did not learn the training images either, or
    it learned them and does not carry over to the validation images."""
    out = []
    chance = 1.0 / num_classes
    near = max(1.5 * chance, chance + 0.05)
    for name, st in state.get("models", {}).items():
        hist = st.get("history") or []
        if not hist:
            continue
        best = hist[min(int(st.get("best_epoch", len(hist) - 1)), len(hist) - 1)]
        val = _accuracy(best, "val_")
        if val is None or val >= near:
            continue
        fit = _accuracy(best, "")
        cause = (
            f"it fits the training images ({100 * fit:.1f}%) but not the validation images: "
            "too few images per class, or validation images unlike the training ones"
            if fit is not None and fit >= near
            else f"it has not learned the training images either ({_pct(fit)}): try more steps "
            "(--epochs, a larger --train-limit), a smaller --batch-size or a higher --lr"
        )
        out.append(
            f"{name}: validation accuracy {100 * val:.1f}% is near chance "
            f"({100 * chance:.1f}% for {num_classes} classes); {cause}"
        )
    return out


def _accuracy(logs: dict, prefix: str) -> float | None:
    """The best per-variant (not ensemble) accuracy among ``logs`` keys with ``prefix``."""
    accs = [
        v
        for k, v in logs.items()
        if k.endswith("accuracy")
        and "ensemble" not in k
        and (k.startswith("val_") if prefix else not k.startswith("val_"))
    ]
    return max(accs) if accs else None


def _pct(v: float | None) -> str:
    return "no training accuracy recorded" if v is None else f"training accuracy {100 * v:.1f}%"
