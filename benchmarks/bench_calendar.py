"""Working-time engine benchmark: pairs per second against pandas and businesstimedelta.

    python -m benchmarks.bench_calendar [--pairs 10000000] [--sample 20000]

Generates N (start, end) pairs spread over three years, each spanning up to 60
days, and times `working_seconds` and `add_working_seconds` of the built-in
`office` calendar on all of them (one core: numpy does not thread these).
The same work on a sample is timed with `pandas.offsets.CustomBusinessHour`
and with the `businesstimedelta` package, and the speed-ups are computed in the
same run. Peak memory is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import time

import businesstimedelta
import holidays
import numpy as np
import pandas as pd
import pytz

from pipeline.calendar import Calendar

TZ = "Europe/Amsterdam"
THREE_YEARS_NS = 3 * 365 * 86_400 * 10**9
SIXTY_DAYS_NS = 60 * 86_400 * 10**9


def make_pairs(n: int, seed: int = 1) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    rng = np.random.default_rng(seed)
    origin = pd.Timestamp("2024-01-01", tz="UTC").value
    start = origin + rng.integers(0, THREE_YEARS_NS, n, dtype=np.int64)
    end = start + rng.integers(0, SIXTY_DAYS_NS, n, dtype=np.int64)
    as_index = lambda ns: pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC")  # noqa: E731
    return as_index(start), as_index(end)


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>14,.0f} pairs/s"


def timed(func, *args):
    t0 = time.perf_counter()
    result = func(*args)
    return result, time.perf_counter() - t0


def nl_holidays(years: range) -> list[dt.date]:
    table = holidays.country_holidays("NL", years=years, language="en_US")
    return [d for d, name in table.items() if name != "Good Friday"]


def btd_rule(years: range) -> businesstimedelta.Rules:
    workday = businesstimedelta.WorkDayRule(
        start_time=dt.time(9),
        end_time=dt.time(17, 30),
        working_days=[0, 1, 2, 3, 4],
        tz=pytz.timezone(TZ),
    )
    hol = businesstimedelta.HolidayRule(nl_holidays(years), tz=pytz.timezone(TZ))
    return businesstimedelta.Rules([workday, hol])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000_000)
    parser.add_argument("--sample", type=int, default=20_000)
    args = parser.parse_args()
    n = args.pairs
    years = range(2023, 2028)

    cal = Calendar.builtin("office")
    starts, ends = make_pairs(n)
    cal.working_seconds(starts[:10], ends[:10])  # build the calendar span outside the timing
    seconds, t_ws = timed(cal.working_seconds, starts, ends)
    offsets = np.asarray(seconds)
    deadlines, t_add = timed(cal.add_working_seconds, starts, offsets)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    # Same answer both ways: the deadline of the measured working time is reached
    # no later than the end (it is the earliest such instant).
    assert (deadlines.asi8 <= ends.as_unit("ns").asi8).all()

    k = args.sample
    rule = btd_rule(years)
    s_py = [s.to_pydatetime() for s in starts[:k]]
    e_py = [e.to_pydatetime() for e in ends[:k]]
    _, t_btd_ws = timed(lambda: [rule.difference(s, e) for s, e in zip(s_py, e_py, strict=True)])
    deltas = [dt.timedelta(seconds=float(x)) for x in offsets[:k]]
    _, t_btd_add = timed(
        lambda: [
            s + businesstimedelta.BusinessTimeDelta(rule, timedelta=d)
            for s, d in zip(s_py, deltas, strict=True)
        ]
    )
    kp = max(k // 20, 100)
    cbh = pd.offsets.CustomBusinessHour(start="09:00", end="17:30", holidays=nl_holidays(years))
    local = starts[:kp].tz_convert(TZ).tz_localize(None)
    hours = (offsets[:kp] // 3600).astype(int)
    _, t_pd_add = timed(lambda: [s + cbh * int(h) for s, h in zip(local, hours, strict=True)])
    local_end = ends[:kp].tz_convert(TZ).tz_localize(None)
    _, t_pd_ws = timed(
        lambda: [
            len(pd.date_range(cbh.rollforward(s), e, freq=cbh))
            for s, e in zip(local, local_end, strict=True)
        ]
    )

    print(f"pairs: {n:,} over 3 years, each up to 60 days; calendar: office (Europe/Amsterdam)")
    print(f"peak memory (max RSS) after both operations: {peak_gib:.2f} GiB")
    print(f"{'':28}{'working_seconds':>26}{'add_working_seconds':>26}")
    ours_ws, ours_add = n / t_ws, n / t_add
    print(f"{'pipeline.calendar':28}{rate(n, t_ws):>26}{rate(n, t_add):>26}")
    btd_ws, btd_add = k / t_btd_ws, k / t_btd_add
    print(
        f"{'businesstimedelta (' + format(k, ',') + ')':28}{rate(k, t_btd_ws):>26}"
        f"{rate(k, t_btd_add):>26}"
    )
    pd_ws, pd_add = kp / t_pd_ws, kp / t_pd_add
    print(
        f"{'pandas CBH (' + format(kp, ',') + ')':28}{rate(kp, t_pd_ws):>26}"
        f"{rate(kp, t_pd_add):>26}"
    )
    print(
        f"{'speed-up vs businesstimedelta':28}"
        f"{ours_ws / btd_ws:>25,.0f}x{ours_add / btd_add:>25,.0f}x"
    )
    print(f"{'speed-up vs pandas CBH':28}{ours_ws / pd_ws:>25,.0f}x{ours_add / pd_add:>25,.0f}x")
    print("pandas CBH works in whole business hours (rounded); businesstimedelta to the second.")


if __name__ == "__main__":
    main()
