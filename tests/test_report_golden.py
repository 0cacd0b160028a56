"""Golden file of the monthly report's HTML for a small fixed warehouse.

Charts are replaced by a placeholder before comparing (their SVG depends on the
matplotlib version; their determinism is tested on its own). Regenerate after an
intended change with `make snapshot` and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pipeline.report_monthly import build_context, render_html
from tests.evaluation_fixtures import build, plan, reply, status, ticket

GOLDEN = Path(__file__).parent / "golden" / "monthly-2026-10.en.html"
GOLDEN_PRINT = Path(__file__).parent / "golden" / "monthly-2026-10.en.print.html"


def fixed_warehouse():
    return build(
        [
            ticket(
                "G1",
                "C1",
                "2026-10-05T09:00",
                first_response="2026-10-09T09:00",
                resolved="2026-10-20T10:00",
            ),
            ticket(
                "G2",
                "C1",
                "2026-10-06T09:00",
                first_response="2026-10-06T10:00",
                resolved="2026-10-06T12:00",
            ),
            ticket(
                "G3",
                "C2",
                "2026-10-07T09:00",
                first_response="2026-10-07T09:30",
                resolved="2026-10-07T11:00",
                priority="high",
                channel="phone",
            ),
            ticket(
                "G4",
                "C3",
                "2026-10-25T03:00+01:00",
                first_response="2026-10-25T03:20+01:00",
                resolved="2026-10-25T09:00",
                priority="critical",
                channel="outage_line",
                cause_domain="customer",
            ),
            ticket(
                "G5",
                "C2",
                "2026-09-15T09:00",
                first_response="2026-09-15T09:10",
                resolved="2026-09-15T12:00",
            ),
        ],
        [
            reply("G1", "2026-10-09T09:00"),
            status("G1", "2026-10-12T09:00", "open", "waiting_on_customer"),
            status("G1", "2026-10-14T09:00", "waiting_on_customer", "open"),
            status("G1", "2026-10-20T10:00", "open", "resolved"),
        ],
        [
            plan("C1", "premium", "2025-01-01"),
            plan("C2", "business", "2025-01-01"),
            plan("C3", "professional", "2025-01-01"),
        ],
    )


def without_charts(html: str) -> str:
    return re.sub(r"<svg.*?</svg>", "<svg>chart</svg>", html, flags=re.DOTALL)


@pytest.mark.parametrize(("golden", "for_print"), [(GOLDEN, False), (GOLDEN_PRINT, True)])
def test_monthly_html_matches_golden(golden: Path, for_print: bool) -> None:
    context = build_context(fixed_warehouse(), "2026-10")
    html = without_charts(render_html(context, for_print=for_print))
    if os.environ.get("UPDATE_GOLDEN") or not golden.exists():
        golden.write_text(html, "utf-8")
    assert html == golden.read_text("utf-8")
