"""Charts of the reports (seaborn on matplotlib), with the shipped CJK font so Chinese labels render.

Each function takes a tidy table prepared by :mod:`surveykit.report.district` (no statistics here) and returns a
matplotlib Figure; the notebook displays it and nbconvert embeds it as a PNG.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .fonts import use_cjk_font

PALETTE = {"unit": "#1f4e79", "city": "#a6a6a6"}


def setup() -> str:
    """Theme + CJK font for every chart; returns the font family in use."""
    family = use_cjk_font()
    sns.set_theme(style="whitegrid", context="notebook", font=family,
                  rc={"axes.unicode_minus": False, "figure.dpi": 110, "savefig.dpi": 110,
                      "axes.edgecolor": "#cccccc", "grid.color": "#e6e6e6"})
    return family


def show(fig: plt.Figure) -> None:
    """Display a figure once (as an embedded PNG in the report) and free it."""
    from IPython.display import display

    display(fig)
    plt.close(fig)


def scores_with_ci(data: pd.DataFrame, title: str, *, xlim: tuple[float, float] | None = None) -> plt.Figure:
    """Horizontal dot-and-interval chart: one row per indicator, this unit vs. the city.

    ``data`` columns: ``indicator``, ``who`` (two levels: this unit first, then the city), ``estimate``,
    ``ci_low``, ``ci_high``.
    """
    setup()
    order = list(dict.fromkeys(data["indicator"]))
    whos = list(dict.fromkeys(data["who"]))
    colors = dict(zip(whos, [PALETTE["unit"], PALETTE["city"]]))
    fig, ax = plt.subplots(figsize=(7.2, 0.55 * len(order) + 1.2))
    offsets = dict(zip(whos, np.linspace(-0.15, 0.15, len(whos)) if len(whos) > 1 else [0.0]))
    for rank, who in enumerate(whos):
        d = data[data["who"] == who].set_index("indicator").reindex(order)
        y = np.arange(len(order)) + offsets[who]
        ax.errorbar(d["estimate"], y, xerr=[d["estimate"] - d["ci_low"], d["ci_high"] - d["estimate"]],
                    fmt="o", color=colors[who], ecolor=colors[who], elinewidth=2, capsize=3, markersize=7,
                    label=who)
        for yy, v in zip(y, d["estimate"]):
            if np.isfinite(v):
                # first series labelled above its dot, the second below, so labels never sit on an interval
                ax.annotate(f"{v:.2f}", (v, yy), xytext=(0, 7 if rank == 0 else -13), textcoords="offset points",
                            ha="center", fontsize=8, color=colors[who])
    ax.set_yticks(np.arange(len(order)), order)
    ax.invert_yaxis()
    lo = np.nanmin(data["ci_low"].to_numpy(float))
    hi = np.nanmax(data["ci_high"].to_numpy(float))
    ax.set_xlim(xlim or (max(0.0, np.floor(lo / 5) * 5 - 2), min(100.0, np.ceil(hi / 5) * 5 + 2)))
    ax.set_xlabel("")
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold", pad=22)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(whos), frameon=False, fontsize=9)
    sns.despine(ax=ax, left=True)
    fig.tight_layout()
    return fig
