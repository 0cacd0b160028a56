"""Monthly report benchmark: rendering a month of a large warehouse against the sample.

    python -m benchmarks.bench_report [--tickets 1000000]

Both warehouses are loaded and evaluated first (not timed); then the month's
context, its print HTML (the markup the PDF is made from) and the PDF are
rendered and timed. Target: the large month takes at
most twice as long as the sample month, because the report aggregates in DuckDB
instead of pulling tickets into Python.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from benchmarks.bench_evaluate import make_warehouse
from pipeline.demo import SUBJECTS
from pipeline.load import load_file
from pipeline.policy import Policy
from pipeline.report_monthly import build_context, ensure_evaluation, render_html, render_pdf
from pipeline.warehouse import connect

SAMPLE = Path(__file__).parent.parent / "data" / "sample"


def render_seconds(con: duckdb.DuckDBPyConnection, month: str, out: Path) -> float:
    t0 = time.perf_counter()
    html = render_html(build_context(con, month), for_print=True)
    render_pdf(html, out)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="write the two PDFs to this folder, to look at")
    args = parser.parse_args()
    policy = Policy.default()
    with tempfile.TemporaryDirectory() as tmp:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            tmp = args.keep
        sample = connect(":memory:")
        for name in ("customers", "tickets", "events"):
            load_file(sample, SAMPLE / f"{name}.csv")
        ensure_evaluation(sample, "2026-10", policy)
        big = connect(":memory:")
        make_warehouse(big, args.tickets)
        # The synthetic tickets' subject is one word; the demo's subjects (as long as
        # a real desk's) decide how many breach rows wrap in the PDF.
        big.execute(
            "UPDATE tickets SET subject = "
            "list_element($subjects, (hash(ticket_id) % len($subjects))::INTEGER + 1)",
            {"subjects": [str(s) for s in SUBJECTS]},
        )
        t0 = time.perf_counter()
        ensure_evaluation(big, "2026-06", policy)
        print(f"evaluated {args.tickets:,} tickets (12 months) in {time.perf_counter() - t0:.1f} s")
        small = min(render_seconds(sample, "2026-10", Path(tmp) / "a.pdf") for _ in range(2))
        large = min(render_seconds(big, "2026-06", Path(tmp) / "b.pdf") for _ in range(2))
    print(f"sample month (10,000-ticket warehouse): {small:6.2f} s")
    print(f"one month of a {args.tickets:,}-ticket warehouse: {large:6.2f} s")
    print(f"ratio: {large / small:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
