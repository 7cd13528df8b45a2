"""Sensor health: activity per sensor and hour/day, completeness, gaps told apart from quiet,
and signs that rate-limited logging (``-m limit``) capped the counts.

The heavy lifting (per-row window, per-bin counts, histograms) is Ibis, so it runs on DuckDB and
Spark alike; the decisions are made in pandas/numpy on the small aggregated results.

Gap model (no black box)
    For each sensor, the silences between consecutive packets (inter-arrival gaps) form its own
    distribution. Above a high threshold ``u`` (its 99th percentile, lower for thin sensors) the
    excesses ``gap - u`` are fitted by an exponential (peaks over threshold; the candidate gap itself
    is left out of the fit). The expected number of gaps at least as long as ``g`` in the sensor's
    span is ``k * exp(-(g - u) / m)`` (``k`` gaps above ``u``, ``m`` their mean excess). A silence
    is a *gap* (sensor probably down or not logging) when that expectation is below ``alpha`` and
    it lasts at least ``min_gap``; otherwise it is *quiet* (normal for that sensor).

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
    return t.group_by(host=t.host, bin=t.time.truncate(unit)).aggregate(rows=t.count())


def activity(t: ibis.Table, freq: str = "hour", fill: bool = True) -> pd.DataFrame:
    """Rows per sensor and bin; with ``fill`` the bins inside each sensor's span with no rows are 0."""
    df = activity_expr(t, freq).order_by(["host", "bin"]).execute()
    if not fill or df.empty:
        return df
    _, secs = _unit(freq)
    step = pd.Timedelta(seconds=secs)
    parts = []
    for host, g in df.groupby("host", sort=True):
        full = pd.date_range(g["bin"].min(), g["bin"].max(), freq=step)
        s = g.set_index("bin")["rows"].reindex(full, fill_value=0)
        parts.append(pd.DataFrame({"host": host, "bin": full, "rows": s.to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def completeness(t: ibis.Table) -> pd.DataFrame:
    """Per sensor: first/last packet, hours with data / hours in its span, days likewise, and how
    much later it started / earlier it stopped than the fleet as a whole."""
    hour = t.time.truncate("h")
    df = (
        t.group_by("host")
        .aggregate(
            rows=t.count(),
            first=t.time.min(),
            last=t.time.max(),
            hours_with_data=hour.nunique(),
            days_with_data=t.time.date().nunique(),
        )
        .order_by("host")
        .execute()
    )
    if df.empty:
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
    return df[cols]


# ----------------------------------------------------------------------------------------------
# gaps


def gaps_expr(t: ibis.Table) -> ibis.Table:
    """Every silence between consecutive packets of a sensor: host, start, end, gap (seconds)."""
    w = ibis.window(group_by=t.host, order_by=t.time)
    g = t.select(host=t.host, end=t.time, start=t.time.lag().over(w))
    g = g.filter(g.start.notnull())
    return g.mutate(gap=g.end.epoch_seconds() - g.start.epoch_seconds())


def gap_stats(t: ibis.Table) -> pd.DataFrame:
    """Per sensor: number of gaps and their median / 90th / 99th / 99.9th percentile / max (s)."""
    g = gaps_expr(t)
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
    alpha: float = 0.01  # flag when fewer than alpha gaps this long are expected in the span
    min_gap: float = 3600.0  # seconds; shorter silences are never called gaps
    tail_q: float = 0.99  # threshold quantile for the tail fit
    min_tail: int = 20  # at least this many gaps above the threshold


def gaps(
    t: ibis.Table, options: GapOptions | None = None, include_quiet: bool = False,
    stats: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The silences that are *gaps* (beyond a sensor's own normal quiet periods), with why.

    Columns: host, start, end, hours, kind (gap/quiet), expected (number of silences this long
    expected in the span under the sensor's own tail), threshold_s, mean_excess_s, why.
    With ``include_quiet`` the longest normal silence per sensor is returned too (kind quiet).
    """
    o = options or GapOptions()
    stats = gap_stats(t) if stats is None else stats
    cols = ["host", "start", "end", "hours", "kind", "expected", "threshold_s", "mean_excess_s",
            "why"]
    if stats.empty:
        return pd.DataFrame(columns=cols)
    # threshold per host: p99 when there are enough gaps above it, else a lower quantile
    thr = stats[["host", "n_gaps", "p90", "p99", "median"]].copy()
    enough = thr["n_gaps"] * (1 - o.tail_q) >= o.min_tail
    thr["u"] = np.where(enough, thr["p99"], np.where(thr["n_gaps"] * 0.1 >= o.min_tail,
                                                   thr["p90"], thr["median"]))
    g = gaps_expr(t)
    u_tab = ibis.memtable(thr[["host", "u"]].astype({"u": "float64"}))
    tail = g.join(u_tab, "host")
    tail = tail.filter(tail.gap > tail.u).select("host", "start", "end", "gap", "u").execute()
    if tail.empty:
        return pd.DataFrame(columns=cols)
    tail["excess"] = tail["gap"].astype("float64") - tail["u"]
    grp = tail.groupby("host")["excess"]
    k = grp.transform("size").astype("float64")
    total = grp.transform("sum")
    # leave-one-out mean excess, so a huge gap does not widen its own yardstick
    m = np.where(k > 1, (total - tail["excess"]) / (k - 1).clip(lower=1), tail["excess"])
    m = np.maximum(m, 1.0)
    tail["mean_excess_s"] = m
    tail["expected"] = k * np.exp(-tail["excess"] / m)
    tail["hours"] = tail["gap"] / 3600.0
    is_gap = (tail["expected"] < o.alpha) & (tail["gap"] >= o.min_gap)
    tail["kind"] = np.where(is_gap, "gap", "quiet")
    tail["threshold_s"] = tail["u"]
    med = thr.set_index("host")["median"]
    tail["why"] = [
        (f"{h}: silent {_hours(gap)}: {gap / max(u, 1):.1f}x its {_hours(u)} tail threshold "
         f"(median silence {_hours(med[h])}); fitted to its {int(kk)} longest silences, "
         f"{exp:.2g} silences this long expected in its span"
         + (" -> gap" if gg else " -> normal quiet"))
        for h, gap, u, kk, exp, gg in zip(
            tail["host"], tail["gap"].astype(float), tail["u"], k, tail["expected"], is_gap,
            strict=True)
    ]
    out = tail[is_gap]
    if include_quiet:
        quiet = tail[~is_gap].sort_values("gap", ascending=False).groupby("host").head(1)
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
) -> pd.DataFrame:
    """Per sensor and day (or hour): rows, active hours, and when known lines seen and rejects.

    ``rejects``: optional DataFrame with columns ``host``, ``day`` (or ``bin``) and ``rejects``
    (lines of that sensor and period that were not packets). ``caps``: the result of
    :func:`capping`; the bins of a capped sensor at or above its cap are counted in
    ``capped_bins`` and the period's ``rows`` is then marked ``lower_bound``.
    """
    if freq not in ("day", "hour"):
        raise ValueError("health is per day or per hour")
    unit, _ = _unit(freq)
    hour = t.time.truncate("h")
    expr = t.group_by(host=t.host, bin=t.time.truncate(unit)).aggregate(
        rows=t.count(), active_hours=hour.nunique()
    )
    df = expr.order_by(["host", "bin"]).execute()
    df["rows"] = df["rows"].astype("int64")
    # fill silent periods inside each sensor's span with zeros
    if not df.empty:
        step = pd.Timedelta(days=1) if freq == "day" else pd.Timedelta(hours=1)
        parts = []
        for host, g in df.groupby("host", sort=True):
            full = pd.date_range(g["bin"].min(), g["bin"].max(), freq=step)
            parts.append(g.set_index("bin").reindex(full).rename_axis("bin").reset_index()
                         .assign(host=host))
        df = pd.concat(parts, ignore_index=True)
        df[["rows", "active_hours"]] = df[["rows", "active_hours"]].fillna(0).astype("int64")
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
            a = a.filter(a.n >= a.cap).group_by(["host", "bin"]).aggregate(c=a.count()).execute()
            if not a.empty:
                df = df.merge(a, on=["host", "bin"], how="left")
                df["capped_bins"] += df.pop("c").fillna(0).astype("int64")
    df["lower_bound"] = df["capped_bins"] > 0
    df = df.rename(columns={"bin": freq})
    return df.sort_values(["host", freq]).reset_index(drop=True)
