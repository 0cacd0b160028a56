"""Report charts as deterministic inline SVG (matplotlib, Agg).

Every chart has a title, labelled axes with units and its target drawn; tiers
keep one colour *and* one marker and line style everywhere, so the charts read in
grey print too. SVG output is byte-stable: fixed font, fixed hash salt, no date
in the metadata, text kept as text.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator, ScalarFormatter

TIER_ORDER = ("pioneer", "professional", "business", "premium")
TIER_STYLE = {
    "pioneer": {"color": "#9e9e9e", "marker": "o", "linestyle": ":"},
    "professional": {"color": "#5b8db8", "marker": "s", "linestyle": "-."},
    "business": {"color": "#1f4e79", "marker": "^", "linestyle": "--"},
    "premium": {"color": "#c0504d", "marker": "D", "linestyle": "-"},
}
RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "svg.hashsalt": "sla-report",
    "svg.fonttype": "none",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
}


class _DecimalFormatter(ScalarFormatter):
    """Tick labels with the reader's decimal sign: a Dutch axis reads "0,5", not
    "0.5" (matplotlib's own locale support follows the process locale, which is
    neither the report's language nor byte-stable)."""

    def __init__(self, decimal: str) -> None:
        super().__init__()
        self.decimal = decimal

    def __call__(self, x: float, pos: int | None = None) -> str:
        return super().__call__(x, pos).replace(".", self.decimal)


def _decimal_axes(ax: plt.Axes, decimal: str) -> None:
    ax.xaxis.set_major_formatter(_DecimalFormatter(decimal))
    ax.yaxis.set_major_formatter(_DecimalFormatter(decimal))


def _legend_above(ax: plt.Axes) -> None:
    """The legend between the title and the plot: inside it would cover a line, or
    a target's label."""
    ax.legend(
        loc="lower left",
        bbox_to_anchor=(0, 1),
        ncols=4,
        fontsize=7,
        frameon=False,
        borderaxespad=0.2,
    )


def _say_empty(ax: plt.Axes, text: str) -> None:
    """An empty plot says why in its middle: bare axes read as a rendering fault."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#555555")


def _svg(fig: plt.Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def trend(
    frame: pd.DataFrame,
    months: list[str],
    labels: list[str],
    *,
    title: str,
    ylabel: str,
    xlabel: str,
    tier_labels: dict[str, str],
    value: str = "compliance",
    percent: bool = True,
    target: float | None = None,
    target_label: str = "",
    decimal: str = ".",
    empty_text: str = "",
    changes: Sequence[tuple[float, str]] = (),
) -> str:
    """One line per tier over the months (`frame`: month, tier, value); `decimal`
    is the reader's decimal sign for the tick labels; `empty_text` is written
    across the plot when no tier has a value in any month; `changes` are (x, label)
    of policy versions taking effect, x in months from the first (0.5: between the
    first and second), each drawn as a dotted line named at its foot."""
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(7.2, 2.7))
        x = np.arange(len(months))
        for tier in TIER_ORDER:
            rows = frame[frame["tier"] == tier].set_index("month").reindex(months)
            if rows[value].notna().any():
                # A month without tickets is a share of nothing (a gap) but a count of 0.
                y = (
                    rows[value].to_numpy(float) * 100
                    if percent
                    else rows[value].fillna(0).to_numpy(float)
                )
                ax.plot(x, y, label=tier_labels.get(tier, tier), markersize=4, **TIER_STYLE[tier])
        for at, label in changes:
            # A step in a line here may be a new promise, not a change in service.
            ax.axvline(at, color="#555555", linestyle=":", linewidth=0.9)
            ax.annotate(
                label,
                (at, 0),
                xycoords=("data", "axes fraction"),
                textcoords="offset points",
                xytext=(3, 3),
                fontsize=7,
                color="#555555",
            )
        if target is not None:
            ax.axhline(target, color="black", linewidth=0.8)
            ax.annotate(
                target_label, (x[-1], target), textcoords="offset points", xytext=(4, 2), fontsize=7
            )
        ax.yaxis.set_major_formatter(_DecimalFormatter(decimal))
        ax.set_xticks(x, labels, rotation=45, ha="right")
        ax.set_title(title, loc="left", fontweight="bold", pad=16)  # room for the legend
        ax.set_ylabel(ylabel)
        ax.set_xlabel(xlabel)
        if percent:
            ax.set_ylim(0, 105)
        else:
            # Counts from zero: a floor at the smallest month makes a rise of a few
            # tickets look like a doubling. Whole ticks: a small desk's axis read
            # "0.5 tickets".
            ax.set_ylim(bottom=0)
            # (matplotlib's default locator otherwise: the same steps, as many ticks.)
            ax.yaxis.set_major_locator(
                MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10], integer=True)
            )
        if ax.get_legend_handles_labels()[0]:
            _legend_above(ax)
        else:
            # Without a line the axis would end at the first month's tick.
            ax.set_xlim(-0.5, max(len(months), 1) - 0.5)  # a range of no months too
            _say_empty(ax, empty_text)
        return _svg(fig)


def distribution(
    quantiles: dict[str, np.ndarray],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    tier_labels: dict[str, str],
    target_hours: float | None,
    limit_hours: float | None,
    target_label: str,
    limit_label: str,
    max_hours: float | None = None,
    decimal: str = ".",
    empty_text: str = "",
) -> str:
    """ECDF per tier from percentiles 0..100 of working time (seconds); the x axis
    ends at `max_hours` when given (the tail beyond it is cut, not rescaled), and
    always far enough past the target and limit lines to show their labels;
    `decimal` is the reader's decimal sign for the tick labels; `empty_text` is
    written across the plot when no tier has a time."""
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(7.2, 2.6))
        share = np.linspace(0, 100, 101)
        for tier in TIER_ORDER:
            if tier in quantiles:
                ax.step(
                    np.asarray(quantiles[tier]) / 3600,
                    share,
                    where="post",
                    label=tier_labels.get(tier, tier),
                    color=TIER_STYLE[tier]["color"],
                    linestyle=TIER_STYLE[tier]["linestyle"],
                )
        # The two lines can stand close (24 h target, 56 h limit on a 250 h axis):
        # their labels sit at different heights so they never overprint.
        lines = ((target_hours, target_label, 2), (limit_hours, limit_label, 12))
        for hours, label, height in lines:
            if hours:
                ax.axvline(hours, color="black", linewidth=0.8)
                ax.annotate(
                    label, (hours, height), textcoords="offset points", xytext=(3, 0), fontsize=7
                )
        ax.set_title(title, loc="left", fontweight="bold", pad=16)  # room for the legend
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 102)
        right = ax.get_xlim()[1] if max_hours is None else max_hours
        marks = [hours for hours in (target_hours, limit_hours) if hours]
        if marks:
            # A line at the axis' end (a month of fast tickets ends the axis at the
            # target) puts its label past the plot.
            right = max(right, max(marks) * 1.15)
        ax.set_xlim(left=0, right=right)
        _decimal_axes(ax, decimal)
        if ax.get_legend_handles_labels()[0]:
            _legend_above(ax)
        else:
            _say_empty(ax, empty_text)
        return _svg(fig)
