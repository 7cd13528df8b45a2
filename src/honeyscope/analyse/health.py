"""Sensor health: activity per sensor and hour/day, completeness, gaps told apart from quiet,
and signs that rate-limited logging (``-m limit``) capped the counts.

The heavy lifting (per-row window, per-bin counts, histograms) is Ibis, so it runs on DuckDB and
Spark alike; the decisions are made in pandas/numpy on the small aggregated results.

Gap model (no black box)
    A silence of an hour or more covers some whole clock hours. Each hour of day is empty on a
    share of the sensor's own days (a sensor quiet at night has its night hours often empty).
    The product of those shares over the covered hours is the chance of such a silence by
    quiet alone; times the hours in the span it is the number expected. Below ``alpha`` the
    silence is a *gap* (sensor probably down or not logging); otherwise it is *quiet*.

Capping model
    With ``--limit N/minute`` (or the default ``3/hour --limit-burst 5``), a sensor under steady
    load logs exactly the same number of packets in every busy minute (or hour): the histogram of
    per-bin counts piles up at that value ``c`` (many more bins at ``c`` than at ``c-1``, few above).
    Natural traffic does not do that: a Poisson or heavy-tailed count has no such spike. Counts of
    the bins at or above ``c`` are lower bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from honeyscope.analyse.base import timed, zero_fill
from honeyscope.analyse.engine import whole_seconds

#: Bin units: Ibis truncate unit and length in seconds.
UNITS = {"minute": ("m", 60), "hour": ("h", 3600), "day": ("D", 86400)}


def _unit(freq: str) -> tuple[str, int]:
    try:
        return UNITS[freq]
    except KeyError:
        raise ValueError(f"unknown frequency {freq!r}: use one of {sorted(UNITS)}") from None


def _hours(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


# ----------------------------------------------------------------------------------------------
# activity and completeness


def activity_expr(t: ibis.Table, freq: str = "hour") -> ibis.Table:
    """Rows per sensor and bin (``bin`` = start of the minute/hour/day, UTC); empty bins absent."""
    unit, _ = _unit(freq)
    t = timed(t)  # dmesg rows have no wall clock, so no bin
    return t.group_by(host=t.host, bin=t.time.truncate(unit)).aggregate(rows=t.count())


def activity(t: ibis.Table, freq: str = "hour", fill: bool = True) -> pd.DataFrame:
    """Rows per sensor and bin; with ``fill`` the bins inside each sensor's span with no rows are 0."""
    a = activity_expr(t, freq)
    if fill:
        a = zero_fill(a, ["host"], "bin", _unit(freq)[0], "rows")
    return a.order_by(["host", "bin"]).execute()


def hourly_expr(t: ibis.Table) -> ibis.Table:
    """Per sensor and clock hour with packets (rows with a time): ``host``, ``hour`` (its start,
    UTC), ``rows``, ``first`` and ``last`` packet time. Cached once, it gives
    :func:`completeness`, :func:`empty_hour_profile` and the daily :func:`health` (their
    ``hours`` argument) from a few rows per sensor-hour instead of every packet again."""
    t = timed(t)
    return t.group_by(host=t.host, hour=t.time.truncate("h")).aggregate(
        rows=t.count(), first=t.time.min(), last=t.time.max())


def completeness(t: ibis.Table, hours: ibis.Table | None = None) -> pd.DataFrame:
    """Per sensor: first/last packet, hours with data / hours in its span, days likewise, and how
    much later it started / earlier it stopped than the fleet as a whole (rows with a time).

    A sensor whose rows all lack a wall-clock time (dmesg lines: only the kernel's uptime) has no
    span: it is listed with its ``rows``, 0 hours and days with data and null (NA) span,
    completeness and start/stop offsets, not left out; with no timed row at all the result is
    empty with a note saying so. ``hours``: the :func:`hourly_expr` of ``t``, to reuse."""
    untimed = t.filter(t.time.isnull()).group_by("host").aggregate(rows=ibis._.count())
    h = hourly_expr(t) if hours is None else hours
    per_host = h.group_by("host").aggregate(
        rows=h.rows.sum(),
        first=h.first.min(),
        last=h.last.max(),
        hours_with_data=h.count(),
        days_with_data=h.hour.date().nunique(),
    )
    df = per_host.order_by("host").execute()
    if df.empty:
        df.attrs["note"] = ("no packet has a wall-clock time (dmesg lines carry only the kernel "
                            "uptime): there are no hours to count")
        return df
    first_h = df["first"].dt.floor("h")
    last_h = df["last"].dt.floor("h")
    df["hours_in_span"] = ((last_h - first_h) / pd.Timedelta(hours=1)).astype("int64") + 1
    df["completeness"] = df["hours_with_data"] / df["hours_in_span"]
    first_d = df["first"].dt.floor("D")
    last_d = df["last"].dt.floor("D")
    df["days_in_span"] = ((last_d - first_d) / pd.Timedelta(days=1)).astype("int64") + 1
    df["started_after_fleet_h"] = (df["first"] - df["first"].min()) / pd.Timedelta(hours=1)
    df["stopped_before_fleet_h"] = (df["last"].max() - df["last"]) / pd.Timedelta(hours=1)
    cols = [
        "host", "rows", "first", "last", "hours_with_data", "hours_in_span", "completeness",
        "days_with_data", "days_in_span", "started_after_fleet_h", "stopped_before_fleet_h",
    ]
    df = df[cols]
    un = untimed.filter(~untimed.host.isin(list(df["host"]))).execute()
    if len(un):  # sensors without a single timed row: listed, their time columns NA
        un = un.assign(hours_with_data=0, days_with_data=0)
        df = pd.concat([df, un], ignore_index=True)
        for c in ("rows", "hours_with_data", "days_with_data", "hours_in_span", "days_in_span"):
            df[c] = df[c].astype("Int64")
        for c in ("first", "last"):
            df[c] = pd.to_datetime(df[c], utc=True)
        df = df.sort_values("host").reset_index(drop=True)[cols]
    return df


# ----------------------------------------------------------------------------------------------
# gaps


def gaps_expr(t: ibis.Table) -> ibis.Table:
    """Every silence between consecutive packets of a sensor: host, start, end, gap (seconds).
    Rows without a time are left out (they sort with the timed ones and would make a silence
    that never was out of one)."""
    t = timed(t)
    w = ibis.window(group_by=t.host, order_by=t.time)
    g = t.select(host=t.host, end=t.time, start=t.time.lag().over(w))
    g = g.filter(g.start.notnull())
    return g.mutate(gap=whole_seconds(g.end) - whole_seconds(g.start))


def gap_stats(t: ibis.Table, silences: ibis.Table | None = None) -> pd.DataFrame:
    """Per sensor: number of gaps and their median / 90th / 99th / 99.9th percentile / max (s).
    ``silences``: the :func:`gaps_expr` of ``t`` to reuse (e.g. cached for :func:`gaps` too)."""
    g = gaps_expr(t) if silences is None else silences
    return (
        g.group_by("host")
        .aggregate(
            n_gaps=g.count(),
            median=g.gap.quantile(0.5),
            p90=g.gap.quantile(0.9),
            p99=g.gap.quantile(0.99),
            p999=g.gap.quantile(0.999),
            max=g.gap.max(),
        )
        .order_by("host")
        .execute()
    )


@dataclass(frozen=True)
class GapOptions:
    alpha: float = 0.01  # flag when fewer than alpha silences this long are expected in the span
    min_gap: float = 3600.0  # seconds; shorter silences are never called gaps


def empty_hour_profile(t: ibis.Table, comp: pd.DataFrame | None = None,
                       hours: ibis.Table | None = None) -> pd.DataFrame:
    """Per sensor and hour of day (0-23, UTC): days in its span, days with data in that hour,
    and ``q``, the share of its days on which that hour was empty (floored at 0.5/days).
    ``comp``: the :func:`completeness` of ``t``, ``hours``: its :func:`hourly_expr`, to reuse."""
    t = timed(t)
    if hours is not None:
        hrs = hours.select("host", h=hours.hour)
    else:
        hrs = t.select(host=t.host, h=t.time.truncate("h")).distinct()
    prof = hrs.group_by(["host", hrs.h.hour().name("hod")]).aggregate(with_data=hrs.count())
    prof = prof.execute()
    comp = completeness(t, hours) if comp is None else comp
    parts = []
    for r in comp.dropna(subset=["first"]).itertuples():
        hours = pd.date_range(r.first.floor("h"), r.last.floor("h"), freq="h")
        days = np.bincount(hours.hour, minlength=24)
        parts.append(pd.DataFrame({"host": r.host, "hod": np.arange(24), "days": days}))
    out = pd.concat(parts, ignore_index=True).merge(prof, on=["host", "hod"], how="left")
    out["with_data"] = out["with_data"].fillna(0).astype("int64")
    days = out["days"].clip(lower=1)
    out["q"] = np.maximum(1 - out["with_data"] / days, 0.5 / days)
    return out


def gaps(
    t: ibis.Table, options: GapOptions | None = None, include_quiet: bool = False,
    comp: pd.DataFrame | None = None, silences: ibis.Table | None = None,
    hours: ibis.Table | None = None,
) -> pd.DataFrame:
    """The silences that are *gaps* (beyond a sensor's own normal quiet periods), with why.

    A silence of at least ``min_gap`` covers some whole clock hours. From the sensor's own
    data, each hour of day h is empty on a share ``q_h`` of its days (nights of a sensor that is
    quiet at night have q near 1). The chance that all the covered hours are empty is taken as
    the product of their ``q_h``; times the hours in the sensor's span, that is the number of
    such silences expected by chance (``expected``). Below ``alpha`` the silence is a *gap*
    (sensor down, or not logging); otherwise it is *quiet*, normal for that sensor.

    Columns: host, start, end, hours, whole_hours, kind (gap/quiet), p, expected, why.
    With ``include_quiet`` the longest normal silence per sensor is returned too. ``comp``: the
    :func:`completeness` of ``t``, ``silences``: its :func:`gaps_expr`, ``hours``: its
    :func:`hourly_expr`, to reuse.
    """
    o = options or GapOptions()
    cols = ["host", "start", "end", "hours", "whole_hours", "kind", "p", "expected", "why"]
    g = gaps_expr(t) if silences is None else silences
    cand = g.filter(g.gap >= min(o.min_gap, 3600.0)).execute()
    if cand.empty:
        return pd.DataFrame(columns=cols)
    comp = completeness(t, hours) if comp is None else comp
    prof = empty_hour_profile(t, comp, hours)
    logq = np.log(prof.pivot(index="host", columns="hod", values="q").to_numpy())
    host_idx = {h: i for i, h in enumerate(sorted(prof["host"].unique()))}
    hi = cand["host"].map(host_idx).to_numpy()
    # clock hours with no packet at all: after the hour of the last packet, before the hour of
    # the next one
    h0 = cand["start"].dt.floor("h") + pd.Timedelta(hours=1)
    h1 = cand["end"].dt.floor("h")
    n_whole = np.maximum(((h1 - h0) / pd.Timedelta(hours=1)).to_numpy(), 0).astype("int64")
    first_hod = h0.dt.hour.to_numpy()
    # sum of log q over n consecutive hours of day starting at first_hod, via a cumulative sum
    # over the sensor's 24-hour profile repeated
    day_sum = logq.sum(axis=1)
    cum = np.concatenate([np.zeros((len(logq), 1)), np.cumsum(np.tile(logq, 2), axis=1)], axis=1)
    full, rest = n_whole // 24, n_whole % 24
    log_p = full * day_sum[hi] + cum[hi, first_hod + rest] - cum[hi, first_hod]
    p = np.exp(log_p)
    span_h = comp.set_index("host")["hours_in_span"]
    expected = p * cand["host"].map(span_h).to_numpy()
    cand["hours"] = cand["gap"] / 3600.0
    cand["whole_hours"] = n_whole
    cand["p"] = p
    cand["expected"] = expected
    is_gap = (expected < o.alpha) & (cand["gap"].to_numpy() >= o.min_gap)
    cand["kind"] = np.where(is_gap, "gap", "quiet")
    mean_q = np.where(n_whole > 0, np.exp(log_p / np.maximum(n_whole, 1)), 1.0)
    cand["why"] = [
        (f"{h}: silent {_hours(gap)} from {a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M} UTC "
         f"({n} whole hours); on its other days those hours of day are empty "
         f"{mq:.0%} of the time (geometric mean), so all {n} empty by chance has p {pp:.2g}: "
         f"{ee:.2g} such silences expected in its {int(span_h[h]):,} hours"
         + (" -> gap" if gg else " -> normal quiet"))
        for h, gap, a, b, n, mq, pp, ee, gg in zip(
            cand["host"], cand["gap"].astype(float), cand["start"], cand["end"], n_whole,
            mean_q, p, expected, is_gap, strict=True)
    ]
    out = cand[is_gap]
    if include_quiet:
        # the longest normal silence per sensor; of equally long ones the first (a stable answer)
        quiet = (cand[~is_gap].sort_values(["gap", "start"], ascending=[False, True], kind="stable")
                 .groupby("host").head(1))
        out = pd.concat([out, quiet])
    return out[cols].sort_values(["host", "start"]).reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# rate-limit capping


def count_histogram_expr(t: ibis.Table, freq: str = "minute") -> ibis.Table:
    """How many bins of each sensor hold exactly ``n`` packets: host, n, bins."""
    a = activity_expr(t, freq)
    return a.group_by(["host", a.rows.name("n")]).aggregate(bins=a.count())


@dataclass(frozen=True)
class CapOptions:
    min_bins: int = 10  # at least this many bins at the plateau value
    ratio: float = 3.0  # plateau bins / bins one below
    max_above: float = 0.25  # share of bins >= c that are above c


def _plateau(hist: pd.DataFrame, o: CapOptions) -> tuple[int, int, int, int, int] | None:
    """(c, bins at c, bins at c-1, bins above c, busy bins) of the best plateau, or None."""
    h = hist.set_index("n")["bins"].sort_index()
    ns = h.index.to_numpy()
    b = h.to_numpy()
    if len(b) == 0:
        return None
    # bins at >= value: reverse cumulative sum
    ge = np.cumsum(b[::-1])[::-1]
    lookup = dict(zip(ns.tolist(), b.tolist(), strict=True))
    best = None
    for i, c in enumerate(ns.tolist()):
        if c < 2 or b[i] < o.min_bins:
            continue
        below = lookup.get(c - 1, 0)
        above = int(ge[i] - b[i])
        if b[i] < o.ratio * max(below, 1) or above > o.max_above * ge[i]:
            continue
        if best is None or b[i] > best[1]:
            best = (int(c), int(b[i]), int(below), above, int(b.sum()))
    return best


def capping(
    t: ibis.Table, freqs: tuple[str, ...] = ("minute", "hour"), options: CapOptions | None = None
) -> pd.DataFrame:
    """Signs of rate-limited logging per sensor and bin size, with why.

    Columns: host, freq, cap (packets per bin where counts pile up), bins_at_cap, bins_below,
    bins_above, busy_bins, why. One row per sensor and frequency that looks capped.
    """
    o = options or CapOptions()
    rows = []
    for freq in freqs:
        hist = count_histogram_expr(t, freq).execute()
        for host, h in hist.groupby("host", sort=True):
            p = _plateau(h, o)
            if p is None:
                continue
            c, at, below, above, busy = p
            rows.append(
                {
                    "host": host, "freq": freq, "cap": c, "bins_at_cap": at, "bins_below": below,
                    "bins_above": above, "busy_bins": busy,
                    "why": (
                        f"{at:,} of {busy:,} busy {freq}s hold exactly {c} packets, "
                        f"{at / max(below, 1):.1f}x as many as hold {c - 1}, and only "
                        f"{above / (at + above):.0%} hold more: looks like a logging rate limit "
                        f"of about {c}/{freq}; counts of those {freq}s are lower bounds"
                    ),
                }
            )
    return pd.DataFrame(
        rows, columns=["host", "freq", "cap", "bins_at_cap", "bins_below", "bins_above",
                       "busy_bins", "why"],
    )


# ----------------------------------------------------------------------------------------------
# the per-sensor, per-day (or hour) health table


def health(
    t: ibis.Table,
    freq: str = "day",
    rejects: pd.DataFrame | None = None,
    caps: pd.DataFrame | None = None,
    hours: ibis.Table | None = None,
) -> pd.DataFrame:
    """Per sensor and day (or hour): rows, active hours, and when known lines seen and rejects.

    ``rejects``: optional DataFrame with columns ``host``, ``day`` (or ``bin``) and ``rejects``
    (lines of that sensor and period that were not packets). ``caps``: the result of
    :func:`capping`; the bins of a capped sensor at or above its cap are counted in
    ``capped_bins`` and the period's ``rows`` is then marked ``lower_bound``. ``hours``: the
    :func:`hourly_expr` of ``t``, to reuse (per day only).
    """
    if freq not in ("day", "hour"):
        raise ValueError("health is per day or per hour")
    unit, _ = _unit(freq)
    if hours is not None and freq == "day":
        expr = hours.group_by(host=hours.host, bin=hours.hour.truncate(unit)).aggregate(
            rows=hours.rows.sum(), active_hours=hours.count()
        )
    else:
        t = timed(t)
        hour = t.time.truncate("h")
        expr = t.group_by(host=t.host, bin=t.time.truncate(unit)).aggregate(
            rows=t.count(), active_hours=hour.nunique()
        )
    # silent periods inside each sensor's span are zeros
    expr = zero_fill(expr, ["host"], "bin", unit, ["rows", "active_hours"])
    df = expr.order_by(["host", "bin"]).execute()
    df[["rows", "active_hours"]] = df[["rows", "active_hours"]].astype("int64")
    if freq == "hour":
        df = df.drop(columns="active_hours")
    if rejects is not None and not rejects.empty:
        r = rejects.rename(columns={"day": "bin"}).copy()
        r["bin"] = pd.to_datetime(r["bin"], utc=True)
        r = r.groupby(["host", "bin"], as_index=False)["rejects"].sum()
        if df["bin"].dt.tz is None:
            r["bin"] = r["bin"].dt.tz_localize(None)
        df = df.merge(r, on=["host", "bin"], how="outer")
        df["rows"] = df["rows"].fillna(0).astype("int64")
        df["rejects"] = df["rejects"].fillna(0).astype("int64")
        df["lines"] = df["rows"] + df["rejects"]
        df["reject_share"] = df["rejects"] / df["lines"].where(df["lines"] > 0)
    df["capped_bins"] = 0
    if caps is not None and not caps.empty:
        for freq_c, cap_rows in caps.groupby("freq"):
            cu, _ = _unit(freq_c)
            a = t.group_by(host=t.host, sub=t.time.truncate(cu), bin=t.time.truncate(unit)) \
                .aggregate(n=t.count())
            cap_tab = ibis.memtable(cap_rows[["host", "cap"]].astype({"cap": "int64"}))
            a = a.join(cap_tab, "host")
            a = a.filter(a.n >= a.cap)
            a = a.group_by(["host", "bin"]).aggregate(c=a.count()).execute()
            if not a.empty:
                df = df.merge(a, on=["host", "bin"], how="left")
                df["capped_bins"] += df.pop("c").fillna(0).astype("int64")
    df["lower_bound"] = df["capped_bins"] > 0
    df = df.rename(columns={"bin": freq})
    return df.sort_values(["host", freq]).reset_index(drop=True)
