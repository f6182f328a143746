"""Text of one bench-report figure and of a Markdown table, shared by every report section.

A figure prints as ``value unit [kind]`` with kind abbreviated: M = measured here, Mod =
modelled from measured inputs and stated assumptions, P = the paper.
"""

from __future__ import annotations

from pathlib import Path

from experiments.bench.figures import is_fig

TAG = {"measured": "M", "modelled": "Mod", "paper": "P"}


def f(x: object, digits: int = 3) -> str:
    """A figure (or None/str) as text with its kind tag."""
    if x is None:
        return "-"
    if not is_fig(x):
        return str(x)
    v, unit = x["value"], x["unit"]
    if v is None:
        return "-"
    if unit == "s":
        v, unit = v * 1000, "ms"
    if unit == "" and isinstance(v, float) and 0 <= v <= 1:
        text = f"{100 * v:.2f}%"
    elif isinstance(v, float):
        text = f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:,.0f}"
    else:
        text = f"{v:,}"
    return f"{text}{' ' + unit if unit else ''} [{TAG[x['kind']]}]"


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table followed by a blank line."""
    return (
        ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        + ["| " + " | ".join(r) + " |" for r in rows]
        + [""]
    )


def splice_section(report: Path, name: str, md: str) -> None:
    """Put a stand-alone section's markdown into report.md between its ``<!-- name -->``
    markers (replacing the last one written, else appended), so the sections measured by
    their own commands sit in the one report."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    text = report.read_text() if report.exists() else ""
    block = f"{start}\n{md}{end}\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    report.write_text(text)
