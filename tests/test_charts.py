import re
import warnings

import numpy as np
import pandas as pd
import pytest

from pipeline import charts


@pytest.fixture
def captured(monkeypatch):
    """The y range of each chart drawn, instead of its SVG."""
    limits = []

    def keep(fig):
        limits.append(fig.axes[0].get_ylim())
        charts.plt.close(fig)
        return ""

    monkeypatch.setattr(charts, "_svg", keep)
    return limits


def _trend(values, **options):
    frame = pd.DataFrame({"month": ["2026-09", "2026-10"], "tier": "premium", "value": values})
    return charts.trend(
        frame,
        ["2026-09", "2026-10"],
        ["Sep", "Oct"],
        title="t",
        ylabel="y",
        xlabel="x",
        tier_labels={},
        value="value",
        **options,
    )


def test_counts_are_drawn_from_zero(captured):
    _trend([50.0, 60.0], percent=False)
    assert captured[0][0] == 0
    assert captured[0][1] >= 60


def test_percentages_run_from_zero_to_just_over_100(captured):
    _trend([0.5, 0.6])
    assert captured[0] == (0, 105)


def test_a_month_without_tickets_is_a_count_of_zero_not_a_gap(monkeypatch) -> None:
    drawn = []

    def keep(fig):
        drawn.append(list(fig.axes[0].lines[0].get_ydata()))
        charts.plt.close(fig)
        return ""

    monkeypatch.setattr(charts, "_svg", keep)
    frame = pd.DataFrame({"month": ["2026-08", "2026-10"], "tier": "premium", "value": [3, 5]})
    months = ["2026-08", "2026-09", "2026-10"]
    charts.trend(
        frame,
        months,
        months,
        title="t",
        ylabel="y",
        xlabel="x",
        tier_labels={},
        value="value",
        percent=False,
    )
    assert drawn == [[3.0, 0.0, 5.0]]


def _tick_texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_a_few_tickets_are_counted_in_whole_ticks() -> None:
    ticks = _tick_texts(_trend([1.0, 2.0], percent=False))
    assert "0" in ticks and "2" in ticks
    assert not any("." in t or "," in t for t in ticks)


def test_dutch_ticks_have_a_decimal_comma() -> None:
    quantiles = {"business": np.linspace(0, 3 * 3600, 101)}
    options = dict(
        title="t",
        xlabel="x",
        ylabel="y",
        tier_labels={},
        target_hours=None,
        limit_hours=None,
        target_label="",
        limit_label="",
    )
    dutch = _tick_texts(charts.distribution(quantiles, decimal=",", **options))
    assert "0,5" in dutch and "2,5" in dutch
    assert not any("." in t for t in dutch)
    assert "0.5" in _tick_texts(charts.distribution(quantiles, **options))


def _distribution(quantiles, **options):
    return charts.distribution(
        quantiles,
        title="t",
        xlabel="x",
        ylabel="y",
        tier_labels={"premium": "Premium"},
        target_hours=25.5,
        limit_hours=59.5,
        target_label="target (Business)",
        limit_label="limit",
        **options,
    )


def test_the_distribution_shows_its_lines_labels_and_legend_clear_of_each_other(monkeypatch):
    # One fast ticket: the axis ended at 62 h, the limit's label past it, and the
    # legend in the lower right corner sat on the limit line and its label.
    figures = []

    def keep(fig):
        fig.canvas.draw()
        axes = fig.axes[0]
        legend = axes.get_legend().get_window_extent()
        figures.append((axes.get_xlim(), legend.y0 - axes.get_window_extent().y1))
        charts.plt.close(fig)
        return ""

    monkeypatch.setattr(charts, "_svg", keep)
    _distribution({"premium": np.full(101, 2 * 3600.0)})
    _distribution({"premium": np.full(101, 2 * 3600.0)}, max_hours=40)
    for (left, right), legend_above_plot in figures:
        assert (left, right) == (0, pytest.approx(59.5 * 1.15))
        assert legend_above_plot >= 0


def test_an_empty_chart_says_why() -> None:
    nothing = "No ticket met or breached its limit in these months"
    assert nothing in _trend([np.nan, np.nan], empty_text=nothing)
    assert "No ticket's clock stopped" in _distribution({}, empty_text="No ticket's clock stopped")
    # a chart with a line has no such text
    assert nothing not in _trend([0.5, np.nan], empty_text=nothing)
    # nor does a range of no months (the tier report's empty range) warn of a singular axis
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = pd.DataFrame({"month": [], "tier": [], "compliance": []})
        svg = charts.trend(
            empty, [], [], title="t", ylabel="y", xlabel="x", tier_labels={}, empty_text=nothing
        )
    assert nothing in svg


def test_a_policy_version_taking_effect_is_marked_where_it_begins(monkeypatch) -> None:
    # A step in a compliance line where the promise changed is no change in service.
    marks = []

    def keep(fig):
        axes = fig.axes[0]
        upright = [
            tuple(line.get_xdata()) for line in axes.lines if len(set(line.get_xdata())) == 1
        ]
        marks.append((upright, [text.get_text() for text in axes.texts]))
        charts.plt.close(fig)
        return ""

    monkeypatch.setattr(charts, "_svg", keep)
    _trend([0.9, 0.7], changes=[(0.5, "policy 2026.2")])
    _trend([0.9, 0.7])
    assert marks == [([(0.5, 0.5)], ["policy 2026.2"]), ([], [])]
