"""Sources across the fleet, and fair comparisons between sensors and days.

* :func:`fair_daily` / :func:`fair_by_sensor`: rates normalised by how many sensors were reporting,
  and unique sources also counted as prefixes (/24 for IPv4, /64 for IPv6) and as ASNs.
* :func:`source_profiles`: for each source, first/last seen, sensors reached (k of N), ports,
  protocols, the order and lag in which it reached the sensors, and a *reach* score from
  "touched one sensor once" (0) to "swept the whole fleet" (4).
* :func:`source_timeline`: every packet of some sources across all sensors, in time order.

All are Ibis expressions over the canonical packet table (the client computes only the /64 prefix
of the distinct IPv6 sources, which are few).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from honeyscope.analyse import enrich
from honeyscope.analyse.engine import backend, whole_seconds

#: reach levels of :func:`source_profiles`
REACH_LABELS = {
    0: "touched one sensor once",
    1: "one sensor, repeatedly",
    2: "a few sensors (under half)",
    3: "most sensors (half or more)",
    4: "swept the whole fleet",
}


def fleet_size(packets: ir.Table) -> int:
    """N: the number of sensors (hosts) in the table."""
    return int(packets.host.nunique().execute())


def source_prefixes(packets: ir.Table, geo: ir.Table | None = None) -> ir.Table:
    """Distinct sources (``addr``) with ``src_net`` (``a.b.c.0/24`` or ``x:x:x:x::/64``) and
    ``src_asn``. Without ``geo`` they are looked up here and returned as an in-memory table
    (cheap to join many times); ``geo``: an :func:`honeyscope.analyse.enrich.source_geo` result
    of the same packets (e.g. cached once per report), reused as it is."""
    if geo is None:
        con = backend(packets)
        geo = enrich.source_geo(packets)
        local = con.to_pyarrow(geo.select("addr", src_net="net", src_asn="asn"))
        return ibis.memtable(local.combine_chunks())  # one chunk: see engine.memtable
    return geo.select("addr", src_net="net", src_asn="asn")


def _with_prefix(packets: ir.Table, pref: ir.Table | None = None) -> ir.Table:
    pref = (pref if pref is not None else source_prefixes(packets)).rename(_addr="addr")
    return packets.left_join(pref, packets.src == pref._addr).drop("_addr")


_UNITS = {"day": "D", "hour": "h", "week": "W"}
#: width of the rank prefix and the marker after it in :func:`source_profiles`' sensor order
_RANK_WIDTH = 10
_RANK_MARK = "\x01"


def _period_sources(
    packets: ir.Table, unit: str, prefixes: ir.Table | None, by_host: bool
) -> ir.Table:
    """Packets per (``host``,) ``period`` and source, with the source's ``src_net`` and
    ``src_asn``: the prefix join runs on these rows rather than on every packet."""
    t = packets.mutate(period=packets.time.truncate(_UNITS[unit]))
    keys = ["host", "period", "src"] if by_host else ["period", "src"]
    t = t.group_by(keys).aggregate(n=ibis._.count())
    return _with_prefix(t, prefixes if prefixes is not None else source_prefixes(packets))


def fair_by_sensor(
    packets: ir.Table, unit: str = "day", prefixes: ir.Table | None = None
) -> ir.Table:
    """Per sensor and ``unit`` (day/hour/week): packets, unique sources, /24|/64 prefixes, ASNs.
    ``prefixes``: a :func:`source_prefixes` result to reuse."""
    t = _period_sources(packets, unit, prefixes, by_host=True)
    return (
        t.group_by(["host", "period"])
        .aggregate(
            packets=ibis._.n.sum(),
            sources=ibis._.src.nunique(),
            prefixes=ibis._.src_net.nunique(),
            asns=ibis._.src_asn.nunique(),
        )
        .order_by(["period", "host"])
    )


def fair_daily(
    packets: ir.Table, unit: str = "day", prefixes: ir.Table | None = None,
    by_sensor: ir.Table | None = None,
) -> ir.Table:
    """Per ``unit``: sensors reporting, packets and uniques, and each divided by the sensors
    reporting (``*_per_sensor``), so a day when half the fleet was down is not read as a lull.

    ``*_per_sensor`` of the uniques is the mean over the reporting sensors of each sensor's own
    unique count (a source seen by two sensors counts at both). ``by_sensor``: the
    :func:`fair_by_sensor` result of the same packets and ``unit``, to reuse (e.g. cached)."""
    prefixes = prefixes if prefixes is not None else source_prefixes(packets)
    s = by_sensor if by_sensor is not None else fair_by_sensor(packets, unit, prefixes)
    fleet = _period_sources(packets, unit, prefixes, by_host=False)
    tot = fleet.group_by("period").aggregate(
        sources=ibis._.src.nunique(),
        prefixes=ibis._.src_net.nunique(),
        asns=ibis._.src_asn.nunique(),
    )
    per = s.group_by("period").aggregate(
        sensors=ibis._.host.nunique(),
        packets=ibis._.packets.sum(),
        sources_per_sensor=ibis._.sources.mean(),
        prefixes_per_sensor=ibis._.prefixes.mean(),
        asns_per_sensor=ibis._.asns.mean(),
    )
    j = per.join(tot, "period")
    return j.mutate(packets_per_sensor=j.packets / j.sensors).select(
        "period", "sensors", "packets", "packets_per_sensor", "sources", "sources_per_sensor",
        "prefixes", "prefixes_per_sensor", "asns", "asns_per_sensor",
    ).order_by("period")


def compare_sensors(
    packets: ir.Table, prefixes: ir.Table | None = None, by_sensor: ir.Table | None = None,
) -> ir.Table:
    """Per sensor over the whole table: days reporting, packets per reporting day, mean daily
    unique sources / prefixes / ASNs (the fair way to rank sensors with different uptimes).
    ``by_sensor``: the daily :func:`fair_by_sensor` result of the same packets, to reuse.

    A packet without a wall-clock time (a dmesg line: only the kernel's uptime) has no day: it
    counts in ``packets`` and in ``untimed`` but in no per-day rate, and a sensor with no day at
    all has ``days`` 0 and null (NA) rates, not its packet count as "per day"
    (``packets = days × packets_per_day + untimed``)."""
    s = by_sensor if by_sensor is not None else fair_by_sensor(packets, "day", prefixes)
    timed = ibis._.period.notnull()
    return s.group_by("host").aggregate(
        days=ibis._.period.nunique(),
        packets=ibis._.packets.sum(),
        packets_per_day=ibis._.packets.mean(where=timed),
        sources_per_day=ibis._.sources.mean(where=timed),
        prefixes_per_day=ibis._.prefixes.mean(where=timed),
        asns_per_day=ibis._.asns.mean(where=timed),
        untimed=ibis.coalesce(ibis._.packets.sum(where=ibis._.period.isnull()), 0),
    ).order_by([ibis.desc("packets_per_day"), "host"])


def source_profiles(packets: ir.Table, n_sensors: int | None = None) -> ir.Table:
    """One row per source: ``first_seen``, ``last_seen``, ``packets``, ``sensors`` (k),
    ``fleet`` (N), ``coverage`` (k/N), ``ports`` (distinct destination ports), ``protocols``
    (distinct, comma-separated), ``order`` (sensors in the order it first reached them,
    ``a>b>c``), ``sweep_seconds`` (first sensor to last sensor reached), ``median_lag_seconds``
    (typical gap between reaching one sensor and the next), ``reach`` (0-4, see
    :data:`REACH_LABELS`) and ``reach_label``."""
    n = n_sensors if n_sensors is not None else fleet_size(packets)
    # one pass over the packets; everything below reads these far fewer rows
    d = packets.group_by(["src", "host", "proto", "dpt"]).aggregate(
        n=ibis._.count(), at=ibis._.time.min(), last=ibis._.time.max()
    )
    first = d.group_by(["src", "host"]).aggregate(at=ibis._.at.min())
    w = ibis.window(group_by=first.src, order_by=[first.at, first.host])
    # the sensors in the order reached: each sensor prefixed with its fixed-width rank, collected,
    # sorted, joined, the ranks stripped again (Spark has no ordered group_concat)
    rank = ibis.row_number().over(w).cast("string").lpad(_RANK_WIDTH, "0")
    first = first.mutate(
        lag=(whole_seconds(first.at) - whole_seconds(first.at).lag().over(w)),
        _ranked=rank + ibis.literal(_RANK_MARK) + first.host,
    )
    order = first.group_by("src").aggregate(
        order=first._ranked.collect().sort().join(">").re_replace(
            f"[0-9]{{{_RANK_WIDTH}}}{_RANK_MARK}", ""
        ),
        sweep_seconds=whole_seconds(first.at).max() - whole_seconds(first.at).min(),
        median_lag_seconds=first.lag.median(),
    )
    per = d.group_by("src").aggregate(
        first_seen=ibis._.at.min(),
        last_seen=ibis._.last.max(),
        packets=ibis._.n.sum(),
        sensors=ibis._.host.nunique(),
        ports=ibis._.dpt.nunique(),
        protocols=ibis._.proto.collect(distinct=True).sort().join(","),
    )
    j = per.join(order, "src")
    half = max(n / 2, 1)
    reach = ibis.cases(
        (j.sensors >= n, 4),
        (j.sensors >= half, 3),
        (j.sensors > 1, 2),
        (j.packets > 1, 1),
        else_=0,
    )
    j = j.mutate(fleet=ibis.literal(n), coverage=j.sensors / n, reach=reach)
    labels = ibis.memtable(
        pd.DataFrame({"_r": list(REACH_LABELS), "reach_label": list(REACH_LABELS.values())})
    )
    labels = labels.mutate(_r=labels._r.cast(j.reach.type()))
    j = j.left_join(labels, j.reach == labels._r).drop("_r")
    return j.select(
        "src", "first_seen", "last_seen", "packets", "sensors", "fleet", "coverage", "ports",
        "protocols", "order", "sweep_seconds", "median_lag_seconds", "reach", "reach_label",
    )


def reach_summary(profiles: ir.Table) -> ir.Table:
    """How many sources (and their packets) at each reach level."""
    return profiles.group_by(["reach", "reach_label"]).aggregate(
        sources=ibis._.count(), packets=ibis._.packets.sum()
    ).order_by("reach")


def sensors_reached(profiles: ir.Table) -> ir.Table:
    """Distribution of k (sensors reached) over sources."""
    return profiles.group_by("sensors").aggregate(
        sources=ibis._.count(), packets=ibis._.packets.sum()
    ).order_by("sensors")


def source_timeline(packets: ir.Table, sources: list[str]) -> ir.Table:
    """Every packet of ``sources`` across all sensors, in time order, with the gap since the
    same source's previous packet (any sensor) and whether it is its first at that sensor."""
    t = packets.filter(packets.src.isin(sources))
    w_src = ibis.window(group_by=t.src, order_by=[t.time, t.host])
    w_host = ibis.window(group_by=[t.src, t.host], order_by=[t.time])
    t = t.mutate(
        gap_seconds=whole_seconds(t.time) - whole_seconds(t.time).lag().over(w_src),
        first_at_sensor=ibis.row_number().over(w_host) == 0,
    )
    return t.select(
        "time", "src", "host", "proto", "spt", "dpt", "tcp_flags", "icmp_type", "icmp_code",
        "dst", "gap_seconds", "first_at_sensor",
    ).order_by(["src", "time", "host"])
