"""Survival time: how long a fresh sensor waits for its first probe on a port, and how often
never-seen-before sources keep arriving.

A sensor's *start* is its first row. For a port, the time to first probe is the time from that
start to the sensor's first packet to the port; a sensor that never saw the port is *censored*
at its last row (it survived at least that long). Per port the distribution over sensors is
summarised by the Kaplan–Meier estimate (which handles the censored sensors), so the median
is the time by which half of the sensors had been probed.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from honeyscope.analyse import base
from honeyscope.analyse.engine import cache_table, whole_seconds


def sensor_spans_expr(t: ibis.Table) -> ibis.Table:
    """Per sensor: ``start`` and ``end``, its first and last row with a time."""
    return base.sensor_spans_expr(t).rename(start="first", end="last")


def first_probe_expr(t: ibis.Table) -> ibis.Table:
    """Per sensor, protocol and destination port: the first packet's time and seconds since the
    sensor's start."""
    t = base.timed(t)
    p = t.filter(t.dpt.notnull())
    first = p.group_by(["host", "proto", "dpt"]).aggregate(first=p.time.min(), packets=p.count())
    spans = sensor_spans_expr(t)
    j = first.join(spans, "host")
    return j.mutate(seconds=whole_seconds(j.first) - whole_seconds(j.start))


def first_probe(t: ibis.Table, top: int = 20,
                ports: list[tuple[str, int]] | None = None) -> pd.DataFrame:
    """Time to first probe per sensor for the ``top`` ports (most sensors reached, then most
    packets) or the given (proto, port) pairs, with censored rows for sensors never probed.

    Columns: host, proto, dpt, start, first (NaT when censored), hours, seen.
    """
    # materialised once: the ranking of the ports and their rows both read it (one aggregate of
    # every packet instead of two)
    e = cache_table(first_probe_expr(t))
    try:
        return _first_probe(t, e, top, ports)
    finally:
        e.release()


def _first_probe(t: ibis.Table, e: ibis.Table, top: int,
                 ports: list[tuple[str, int]] | None) -> pd.DataFrame:
    if ports is None:
        rank = e.group_by(["proto", "dpt"]).aggregate(sensors=e.count(), packets=e.packets.sum())
        rank = rank.order_by([ibis.desc("sensors"), ibis.desc("packets"), "proto", "dpt"])
        chosen = rank.limit(top).select("proto", "dpt")
    else:
        chosen = ibis.memtable(pd.DataFrame(ports, columns=["proto", "dpt"])).cast(
            {"dpt": "uint16"})
    seen = e.semi_join(chosen, ["proto", "dpt"]).select(
        "host", "proto", "dpt", "start", "first", "seconds").execute()
    chosen_df = chosen.execute()
    spans = sensor_spans_expr(t).execute()
    grid = chosen_df.merge(spans, how="cross")
    df = grid.merge(seen.drop(columns="start"), on=["host", "proto", "dpt"], how="left")
    df["seen"] = df["first"].notna()
    censored = (df["end"] - df["start"]).dt.total_seconds()
    df["hours"] = np.where(df["seen"], df["seconds"], censored) / 3600.0
    df["dpt"] = df["dpt"].astype("int64")
    order = {(p, int(d)): i for i, (p, d) in enumerate(chosen_df.itertuples(index=False))}
    df["_o"] = [order[(p, int(d))] for p, d in zip(df["proto"], df["dpt"], strict=True)]
    df = df.sort_values(["_o", "host"]).drop(columns=["_o", "seconds", "end"])
    df = df[["host", "proto", "dpt", "start", "first", "hours", "seen"]].reset_index(drop=True)
    if df.empty:
        df.attrs["note"] = _NO_PROBE_TIME
    return df


#: why a survival result is empty
_NO_PROBE_TIME = ("no packet to a port has a wall-clock time (dmesg lines carry only the kernel "
                  "uptime): there is no time to first probe")


def kaplan_meier(hours: np.ndarray, seen: np.ndarray) -> pd.DataFrame:
    """Kaplan–Meier survival (probability of not yet probed) at each event time."""
    order = np.argsort(hours, kind="stable")
    h, s = np.asarray(hours, float)[order], np.asarray(seen, bool)[order]
    times = np.unique(h[s])
    at_risk = np.array([(h >= x).sum() for x in times])
    events = np.array([((h == x) & s).sum() for x in times])
    surv = np.cumprod(1 - events / np.maximum(at_risk, 1))
    return pd.DataFrame({"hours": times, "at_risk": at_risk, "events": events,
                         "survival": surv})


def _km_quantile(km: pd.DataFrame, q: float) -> float:
    """Smallest time at which the KM survival drops to 1-q or below (NaN if never)."""
    hit = km.loc[km["survival"] <= 1 - q + 1e-12, "hours"]
    return float(hit.iloc[0]) if len(hit) else float("nan")


def survival_summary(fp: pd.DataFrame) -> pd.DataFrame:
    """Per port: sensors, sensors probed, fastest / KM median / slowest time to first probe (h)."""
    rows = []
    for (proto, dpt), g in fp.groupby(["proto", "dpt"], sort=False):
        km = kaplan_meier(g["hours"].to_numpy(), g["seen"].to_numpy())
        seen = g.loc[g["seen"], "hours"]
        rows.append({
            "proto": proto, "dpt": int(dpt), "sensors": len(g), "probed": int(g["seen"].sum()),
            "min_hours": float(seen.min()) if len(seen) else float("nan"),
            "median_hours": _km_quantile(km, 0.5),
            "max_hours": float(seen.max()) if len(seen) else float("nan"),
        })
    out = pd.DataFrame(rows, columns=["proto", "dpt", "sensors", "probed", "min_hours",
                                      "median_hours", "max_hours"])
    if out.empty:
        out.attrs["note"] = fp.attrs.get("note") or _NO_PROBE_TIME
    return out


# ----------------------------------------------------------------------------------------------
# new sources


def new_sources_expr(t: ibis.Table) -> ibis.Table:
    """Each (sensor, source) pair's first packet, and seconds since the previous new source of
    that sensor (``interval``; null for the first)."""
    t = base.timed(t)
    first = t.group_by(["host", "src"]).aggregate(first=t.time.min())
    w = ibis.window(group_by=first.host, order_by=[first.first, first.src])
    prev = first.first.lag().over(w)
    return first.mutate(interval=whole_seconds(first.first) - whole_seconds(prev))


def new_source_intervals(t: ibis.Table) -> pd.DataFrame:
    """Per sensor: new sources, and the distribution of the time between consecutive new ones
    (seconds: median, p90, p99, max, mean) plus new sources per day in its first and last week."""
    e = new_sources_expr(t)
    iv = e.filter(e.interval.notnull())
    stats = iv.group_by("host").aggregate(
        mean_s=iv.interval.mean(),
        median_s=iv.interval.quantile(0.5),
        p90_s=iv.interval.quantile(0.9),
        p99_s=iv.interval.quantile(0.99),
        max_s=iv.interval.max(),
    )
    spans = sensor_spans_expr(t)
    j = e.join(spans, "host")
    sec = whole_seconds(j.first) - whole_seconds(j.start)
    left = whole_seconds(j.end) - whole_seconds(j.first)
    week = 7 * 86400
    counts = j.group_by("host").aggregate(
        sources=j.count(),
        first_week=(sec < week).cast("int64").sum(),  # an int, never a DECIMAL sum
        last_week=(left < week).cast("int64").sum(),
        span_s=(whole_seconds(j.end) - whole_seconds(j.start)).max(),
    )
    df = counts.join(stats, "host", how="left").order_by("host").execute()
    # a sensor that reported for less than a week: its "week" is its span (one day's new sources
    # are not spread over seven days); no span at all (one instant): no rate
    days = np.minimum(df.pop("span_s").astype(float) / 86400.0, 7.0)
    days = days.where(days > 0)
    df["first_week_per_day"] = df.pop("first_week") / days
    df["last_week_per_day"] = df.pop("last_week") / days
    if df.empty:
        df.attrs["note"] = ("no packet has a wall-clock time (dmesg lines carry only the kernel "
                            "uptime): there are no times between new sources")
    return df[["host", "sources", "median_s", "p90_s", "p99_s", "max_s", "mean_s",
               "first_week_per_day", "last_week_per_day"]]


def new_sources_daily(t: ibis.Table) -> pd.DataFrame:
    """New (never seen before by that sensor) sources per sensor and day: host, day, new."""
    e = new_sources_expr(t)
    return (
        e.group_by(["host", e.first.date().name("day")])
        .aggregate(new=e.count())
        .order_by(["host", "day"])
        .execute()
    )


def new_sources_fleet(t: ibis.Table) -> pd.DataFrame:
    """Fleet-wide never-seen-before sources per UTC day: a source counts once, on the day of
    its first packet at any sensor (the per-sensor counts of :func:`new_sources_daily` count a
    source again at every sensor it reaches): day, new."""
    first = base.timed(t).group_by("src").aggregate(first=ibis._.time.min())
    return (
        first.group_by(first.first.date().name("day")).aggregate(new=first.count())
        .order_by("day").execute()
    )


def fleet_new_per_day(t: ibis.Table, days: int = 7) -> float:
    """Mean fleet-wide new sources per day over the last ``days`` x 24 h before the data's last
    packet (as the per-sensor "last week" of :func:`new_source_intervals`): sources whose first
    packet at any sensor falls in that span, divided by ``days`` — or, when the data span less
    than ``days``, by their span in days (two days' new sources are not spread over a week); NaN
    when the data span no time at all."""
    t = base.timed(t)
    first = t.group_by("src").aggregate(first=ibis._.time.min())
    end = t.time.max()
    start = whole_seconds(end) - days * 86400
    n = first.filter(whole_seconds(first.first) > start.as_scalar()).count().execute()
    span = t.aggregate(s=whole_seconds(t.time.max()) - whole_seconds(t.time.min())).execute()
    span_days = min(float(days), float(span["s"].iloc[0] or 0) / 86400.0) if len(span) else 0.0
    return float(n) / span_days if span_days > 0 else float("nan")
