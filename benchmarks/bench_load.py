"""Load benchmark: our load of canonical CSV against DuckDB's plain read_csv.

    python -m benchmarks.bench_load [--tickets 1000000] [--keep DIR]

Writes a demo export (pipeline.demo) of N tickets (about 7 events each), then
times, in the same run: DuckDB's own `read_csv` of the tickets and events files
into plain tables, and `sla load` of the same files (parse, check, reject,
merge, in one transaction each) into an empty warehouse. Target: at most 3x.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import duckdb

from pipeline.demo import generate
from pipeline.load import load_file
from pipeline.warehouse import connect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--keep", default=None, help="Folder for the generated files.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        t0 = time.perf_counter()
        files = generate(folder, n_tickets=args.tickets, n_customers=max(args.tickets // 4, 10))
        print(f"generated {args.tickets:,} tickets in {time.perf_counter() - t0:.1f} s")

        plain = duckdb.connect(str(folder / "plain.duckdb"))
        t0 = time.perf_counter()
        for name, path in (("tickets", files.tickets), ("events", files.events)):
            plain.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{path}', quote = '\"')")
        t_plain = time.perf_counter() - t0
        events = plain.execute("SELECT count(*) FROM events").fetchall()[0][0]
        plain.close()

        con = connect(folder / "warehouse.duckdb")
        load_file(con, files.customers)
        t0 = time.perf_counter()
        tickets = load_file(con, files.tickets)
        loaded = load_file(con, files.events)
        t_ours = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"files: {args.tickets:,} tickets, {events:,} events")
    print(f"DuckDB read_csv into plain tables: {t_plain:8.2f} s")
    print(
        f"sla load (checked, merged):         {t_ours:8.2f} s "
        f"({tickets.accepted:,} tickets, {loaded.accepted:,} events accepted)"
    )
    print(f"ratio: {t_ours / t_plain:.2f}x (target <= 3x); peak memory {peak:.2f} GiB")


if __name__ == "__main__":
    main()
