"""Charts of the reports (seaborn on matplotlib), with the shipped CJK font so Chinese labels render.

Labels are user strings drawn into an image, so they cannot act as markup; mathtext is off (``$...$`` is shown as
written) and charts are embedded as PNG.

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
                      "text.parse_math": False,   # labels come from user files: '$' is text, never mathtext
                      "axes.edgecolor": "#cccccc", "grid.color": "#e6e6e6"})
    return family


def show(fig: plt.Figure | None) -> None:
    """Display a figure once (as an embedded PNG in the report) and free it; None (no chart) shows nothing."""
    from IPython.display import display

    if fig is None:
        return
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


def heatmap(data: pd.DataFrame, title: str) -> plt.Figure:
    """Units (rows) x indicators (columns) heat-map with the scores written in the cells; NaN cells blank."""
    setup()
    fig, ax = plt.subplots(figsize=(7.6, 0.36 * len(data) + 1.6))
    sns.heatmap(data, annot=True, fmt=".1f", cmap="RdYlGn", center=float(np.nanmean(data.to_numpy())),
                linewidths=0.5, linecolor="white", cbar=False, ax=ax, annot_kws={"fontsize": 8})
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.xaxis.tick_top()
    ax.tick_params(axis="x", labelrotation=0, labelsize=9)
    ax.tick_params(axis="y", labelsize=9)
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold", pad=28)
    fig.tight_layout()
    return fig


def trend_lines(data: pd.DataFrame, title: str) -> plt.Figure:
    """One line per unit across years (columns ``unit``, ``year``, ``estimate``; with ``segment``, a unit's line is
    drawn in pieces, one per segment: broken where the years are not comparable)."""
    setup()
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    years = sorted(data["year"].unique())
    pieces = {"units": "segment", "estimator": None} if "segment" in data.columns else {}
    sns.lineplot(data=data, x="year", y="estimate", hue="unit", marker="o", ax=ax, legend=False,
                 palette="tab20", **pieces)
    last = data[data["year"] == years[-1]].sort_values("estimate")
    lo, hi = data["estimate"].min(), data["estimate"].max()
    gap = max(0.45, (hi - lo) / 40)  # minimum vertical distance between two end labels, in score points
    placed = []
    for v in last["estimate"]:  # label the line ends, pushed apart upwards where they would overlap
        placed.append(max(v, placed[-1] + gap) if placed else v)
    for (_, r), y in zip(last.iterrows(), placed):
        ax.annotate(r["unit"], xy=(years[-1], r["estimate"]), xytext=(years[-1] + 0.04 * (years[-1] - years[0] or 1), y),
                    textcoords="data", fontsize=7, va="center", annotation_clip=False,
                    arrowprops={"arrowstyle": "-", "color": "#bbbbbb", "lw": 0.5})
    ax.set_ylim(lo - 0.5, max(hi, placed[-1] if placed else hi) + 0.5)
    ax.set_xticks(years, [str(y) for y in years])
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    sns.despine(ax=ax)
    fig.tight_layout()
    return fig
