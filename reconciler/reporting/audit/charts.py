"""The audit's charts as inline SVG, drawn by matplotlib without a display or a browser.

Text stays text (``svg.fonttype = none``) so the page can be searched, printed and checked.
Why matplotlib: well kept for two decades, writes SVG with no browser or JavaScript, ships wheels
for every platform, and its Agg/SVG backends need no display; pygal would add lxml-free SVG too but
is thinly maintained, and Plotly/Vega/Bokeh pages need a script to draw.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from reconciler.errors import UsageError

INSTALL_HINT = "the audit report needs matplotlib: pip install 'brightpattern-reconciler[report]'"
_BLUE, _GREEN, _GREY = "#3b6ea5", "#3a8d5c", "#9aa5b1"


def _pyplot() -> ModuleType:
    try:
        import matplotlib
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.fonttype": "none", "font.size": 9, "font.family": "sans-serif",
                                "axes.spines.top": False, "axes.spines.right": False})
    import matplotlib.pyplot as plt

    return plt


def require_matplotlib() -> None:
    """Fail before anything is read or written when the charting extra is missing."""
    _pyplot()


def horizontal_bars(name: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]]) -> str:
    """One bar a label (top to bottom), one colour a series."""
    plt = _pyplot()
    height = 0.8 / max(len(series), 1)
    figure, axes = plt.subplots(figsize=(7.5, 0.5 + 0.28 * max(len(labels), 1) * max(len(series), 1) ** 0.5))
    for index, (title, values) in enumerate(series):
        positions = [row + index * height for row in range(len(labels))]
        axes.barh(positions, values, height=height, label=title, color=(_BLUE, _GREEN, _GREY)[index % 3])
    axes.set_yticks([row + height * (len(series) - 1) / 2 for row in range(len(labels))], list(labels))
    axes.invert_yaxis()
    if len(series) > 1:
        axes.legend(frameon=False, loc="lower right")
    return _svg(plt, figure, name)


def vertical_bars(name: str, labels: Sequence[str], values: Sequence[int], xlabel: str, ylabel: str = "records") -> str:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7.5, 2.6))
    axes.bar(range(len(labels)), values, color=_BLUE)
    step = max(1, len(labels) // 15)  # at most about 15 tick labels, so they never overlap
    axes.set_xticks(range(0, len(labels), step), [labels[i] for i in range(0, len(labels), step)],
                    rotation=30 if len(labels) > 8 else 0, ha="right" if len(labels) > 8 else "center")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    return _svg(plt, figure, name)


def _svg(plt: ModuleType, figure: Any, name: str) -> str:
    # A salt per chart keeps the clip-path ids of several inline SVGs on one page apart.
    with plt.rc_context({"svg.hashsalt": name}):
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]
