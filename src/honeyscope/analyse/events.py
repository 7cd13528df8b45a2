"""Events: the packets behind a spike, grouped into incidents that say who did what.

Every kind is an Ibis expression over the canonical packet table (so it runs on DuckDB and Spark);
:func:`events` runs them, adds each source's country and ASN and returns one table.

=============  ==================================================================================
kind           rule (thresholds are the fields of :class:`EventOptions`, defaults in brackets)
=============  ==================================================================================
flood          one source, one sensor, one protocol and port, one UTC day: at least
               ``flood_min_packets`` [500] packets and ``flood_min_share`` [25%] of the sensor's
               packets that day
sweep          one source, one protocol, within one window of ``window_hours`` [24] (fixed UTC
               bins): at least ``sweep_min_ports`` [20] ports or ``sweep_min_sensors`` [5]
               sensors, and ``sweep_min_packets`` [100] packets; the same for a /24 whose
               several sources sweep together when none of them does alone
campaign       many sources, one protocol and port, one UTC day: at least
               ``campaign_min_sources`` [30] distinct sources and ``campaign_ratio`` [4] times
               the port's mean daily sources over the ``baseline_days`` [28] days before (days
               without the port count as 0; days less than ``baseline_days`` after the data
               begin are not judged)
backscatter    one source, one UTC day: at least ``backscatter_min_packets`` [100] packets that
               are replies to traffic the sensors never sent (SYN-ACK, RST, DNS answers, echo
               replies, ICMP errors: :mod:`honeyscope.analyse.scans`), the trace of a DDoS with
               spoofed sources
rate-capped    a sensor whose per-minute or per-hour counts pile up at a ceiling
               (:func:`honeyscope.analyse.health.capping`): its busy bins are lower bounds
=============  ==================================================================================

``share`` is the event's packets over all packets of the sensors and days it touched (for a
flood: that sensor's day).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import ibis
import ibis.expr.types as ir
import pandas as pd

from honeyscope.analyse import enrich, scans
from honeyscope.analyse.base import timed
from honeyscope.analyse.engine import whole_seconds

KINDS = ("flood", "sweep", "campaign", "backscatter", "rate-capped")
COLUMNS = [
    "event", "kind", "src", "sources", "cc", "country", "asn", "as_name", "proto", "ports",
    "sensors", "sensor_count", "start", "end", "packets", "share",
]


@dataclass(frozen=True)
class EventOptions:
    """Thresholds of the events (see the module's table)."""

    window_hours: float = 24.0
    flood_min_packets: int = 500
    flood_min_share: float = 0.25
    sweep_min_ports: int = 20
    sweep_min_sensors: int = 5
    sweep_min_packets: int = 100
    campaign_min_sources: int = 30
    campaign_ratio: float = 4.0
    baseline_days: int = 28
    backscatter_min_packets: int = 100

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not v > 0:
                raise ValueError(f"event option {f.name} must be positive, not {v!r}")
        if self.flood_min_share > 1:
            raise ValueError(f"flood_min_share is a share (0-1], not {self.flood_min_share!r}")


def _ipv4_net(src: ir.StringValue) -> ir.StringValue:
    """``a.b.c.0/24`` of a dotted quad, null for anything else (IPv6 sources are left alone)."""
    rx = r"^(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$"
    # one regex per row: the group is empty when nothing matches (DuckDB and Spark alike), and
    # never empty when the pattern matches
    head = src.re_extract(rx, 1)
    return ibis.cases((head != "", head + ".0/24"), else_=ibis.null("string"))


def base(packets: ir.Table, o: EventOptions | None = None) -> ir.Table:
    """The one pass over the packets every kind reads: per source, sensor, protocol, port,
    scan type and kind (:func:`honeyscope.analyse.scans.packet_types`), UTC day and window:
    packets (``n``), first and last time."""
    o = o or EventOptions()
    t = scans.packet_types(timed(packets))
    t = t.mutate(day=t.time.date(), win=scans.window_of(t.time, o.window_hours))
    b = t.group_by(["src", "host", "proto", "dpt", "scan_type", "kind", "day", "win"]).aggregate(
        n=t.count(), first=t.time.min(), last=t.time.max()
    )
    return b.mutate(net=_ipv4_net(b.src))


def _probes(b: ir.Table) -> ir.Table:
    """The base rows that are not replies (backscatter is its own kind of event)."""
    return b.filter(b.kind != "backscatter")


def sensor_days(packets: ir.Table) -> ir.Table:
    """Packets per sensor and UTC day (``total``): the denominators of ``share``."""
    t = timed(packets)
    return t.group_by(["host", t.time.date().name("day")]).aggregate(total=t.count())


def _with_share(found: ir.Table, members: ir.Table, keys: list[str], totals: ir.Table) -> ir.Table:
    """``found`` (one row per ``keys``) with ``share``: its packets over the total packets of
    the (sensor, day) pairs its ``members`` rows touch."""
    # only the members of the rows found (few): the (sensor, day) pairs of every member row
    # would be a group-by of nearly all the packets at fleet scale
    members = members.semi_join(found.select(keys), keys)
    hd = members.group_by(list(dict.fromkeys([*keys, "host", "day"]))).aggregate()
    tot = totals.rename(_h="host", _d="day")
    hd = hd.join(tot, (hd.host == tot._h) & (hd.day == tot._d))
    den = hd.group_by(keys).aggregate(_den=hd.total.sum())
    den = den.rename(**{f"_k_{k}": k for k in keys})
    j = found.join(den, [found[k] == den[f"_k_{k}"] for k in keys])
    return j.mutate(share=j.packets / j._den).drop("_den", *[f"_k_{k}" for k in keys])


def _port_text(proto: ir.StringValue, lo: ir.Value, hi: ir.Value, n: ir.IntegerValue) -> ir.StringValue:
    rng = ibis.cases(
        (lo.isnull(), ibis.literal("")),
        (lo == hi, "/" + lo.cast("string")),
        else_="/" + lo.cast("string") + "-" + hi.cast("string") + " (" + n.cast("string") + " ports)",
    )
    return proto + rng


def floods(packets: ir.Table, o: EventOptions | None = None, *, b: ir.Table | None = None,
           totals: ir.Table | None = None) -> ir.Table:
    """One source, one sensor, one protocol and port, one UTC day, over the flood thresholds."""
    o = o or EventOptions()
    b = b if b is not None else base(packets, o)
    totals = totals if totals is not None else sensor_days(packets)
    b = _probes(b)
    keys = ["src", "host", "proto", "dpt", "day"]
    f = b.group_by(keys).aggregate(packets=b.n.sum(), start=b.first.min(), end=b.last.max())
    f = f.filter(f.packets >= o.flood_min_packets)
    tot = totals.rename(_h="host", _d="day")
    f = f.join(tot, (f.host == tot._h) & (f.day == tot._d))
    f = f.mutate(share=f.packets / f.total).drop("total")
    f = f.filter(f.share >= o.flood_min_share)
    return f.select(
        kind=ibis.literal("flood"), src=f.src, sources=ibis.literal(1).cast("int64"),
        proto=f.proto, ports=_port_text(f.proto, f.dpt, f.dpt, ibis.literal(1)),
        sensors=f.host, sensor_count=ibis.literal(1).cast("int64"), start=f.start, end=f.end,
        packets=f.packets.cast("int64"), share=f.share,
    )


def _sweep_agg(b: ir.Table, key: str, min_packets: int) -> ir.Table:
    keys = [key, "proto", "win"]
    # the distinct counts only for the few groups with packets enough (a cheap sum first)
    cand = b.group_by(keys).aggregate(_p=b.n.sum())
    cand = cand.filter(cand._p >= min_packets).select(keys)
    b = b.semi_join(cand, keys)
    return b.group_by(keys).aggregate(
        packets=b.n.sum(), ports_n=b.dpt.nunique(), sensor_count=b.host.nunique(),
        sources=b.src.nunique(), port_min=b.dpt.min(), port_max=b.dpt.max(),
        start=b.first.min(), end=b.last.max(),
        sensors=b.host.collect(distinct=True).sort().join(","),
        top_src=b.src.max(),
    )


def sweeps(packets: ir.Table, o: EventOptions | None = None, *, b: ir.Table | None = None,
           totals: ir.Table | None = None) -> ir.Table:
    """One source (or a /24 of several), one protocol, one window: many ports or sensors."""
    o = o or EventOptions()
    b = b if b is not None else base(packets, o)
    totals = totals if totals is not None else sensor_days(packets)

    def qualifies(s: ir.Table) -> ir.BooleanValue:
        return ((s.ports_n >= o.sweep_min_ports) | (s.sensor_count >= o.sweep_min_sensors)) & (
            s.packets >= o.sweep_min_packets)

    b = _probes(b)
    one = _sweep_agg(b, "src", o.sweep_min_packets)
    one = one.filter(qualifies(one))
    one = _with_share(one, b, ["src", "proto", "win"], totals)
    bn = b.filter(b.net.notnull())
    net = _sweep_agg(bn, "net", o.sweep_min_packets)
    net = net.filter(qualifies(net) & (net.sources >= 2))
    # a /24 where one source sweeps alone is that source's sweep, not the network's
    alone = one.mutate(_net=_ipv4_net(one.src)).select(_n="_net", _p="proto", _w="win")
    net = net.anti_join(alone, (net.net == alone._n) & (net.proto == alone._p)
                        & (net.win == alone._w))
    net = _with_share(net, bn, ["net", "proto", "win"], totals)
    parts = []
    for s, label in ((one, one.src), (net, net.net)):
        parts.append(s.select(
            kind=ibis.literal("sweep"), src=label, sources=s.sources.cast("int64"), proto=s.proto,
            ports=_port_text(s.proto, s.port_min, s.port_max, s.ports_n), sensors=s.sensors,
            sensor_count=s.sensor_count.cast("int64"), start=s.start, end=s.end,
            packets=s.packets.cast("int64"), share=s.share,
        ))
    return parts[0].union(parts[1])


def campaigns(packets: ir.Table, o: EventOptions | None = None, *, b: ir.Table | None = None,
              totals: ir.Table | None = None) -> ir.Table:
    """Many sources, one protocol and port, one UTC day, far above the port's recent days."""
    o = o or EventOptions()
    b = b if b is not None else base(packets, o)
    totals = totals if totals is not None else sensor_days(packets)
    keys = ["proto", "dpt", "day"]
    b = _probes(b)
    d = b.filter(b.dpt.notnull())
    # only ports that reach the source threshold on some day can have a campaign
    busy = d.group_by(keys).aggregate(_s=d.src.nunique())
    busy = busy.filter(busy._s >= o.campaign_min_sources).select("proto", "dpt").distinct()
    d = d.semi_join(busy, ["proto", "dpt"])
    c = d.group_by(keys).aggregate(
        packets=d.n.sum(), sources=d.src.nunique(), sensor_count=d.host.nunique(),
        sensors=d.host.collect(distinct=True).sort().join(","), start=d.first.min(),
        end=d.last.max(),
    )
    dnum = (whole_seconds(c.start) // 86400).cast("int64")
    c = c.mutate(_dn=dnum)
    w = ibis.range_window(preceding=o.baseline_days, following=0, group_by=[c.proto, c.dpt],
                          order_by=c._dn)
    c = c.mutate(_before=c.sources.sum().over(w) - c.sources)
    c = c.mutate(baseline=c._before / o.baseline_days)
    first_day = b.aggregate(_f=(whole_seconds(b.first.min()) // 86400).cast("int64"))
    c = c.cross_join(first_day)
    c = c.filter(
        (c._dn >= c._f + o.baseline_days)
        & (c.sources >= o.campaign_min_sources)
        & (c.sources >= o.campaign_ratio * ibis.greatest(c.baseline, 1))
    )
    # the busiest source of each campaign, to name
    # (ties: the smallest address, the same on every engine)
    # (of the campaigns found only: per source of every port and day would be nearly a row per
    # packet at fleet scale)
    dc = d.semi_join(c.select(keys), keys)
    per = dc.group_by([*keys, "src"]).aggregate(_n=dc.n.sum())
    most = per.group_by(keys).aggregate(_m=per._n.max()).rename(_mp="proto", _md="dpt", _mday="day")
    per = per.join(most, (per.proto == most._mp) & (per.dpt == most._md) & (per.day == most._mday)
                   & (per._n == most._m))
    top = per.group_by(keys).aggregate(_top=per.src.min())
    top = top.rename(_tp="proto", _td="dpt", _tday="day")
    c = c.join(top, (c.proto == top._tp) & (c.dpt == top._td) & (c.day == top._tday))
    c = _with_share(c, d, keys, totals)
    return c.select(
        kind=ibis.literal("campaign"), src=c._top, sources=c.sources.cast("int64"), proto=c.proto,
        ports=_port_text(c.proto, c.dpt, c.dpt, ibis.literal(1)), sensors=c.sensors,
        sensor_count=c.sensor_count.cast("int64"), start=c.start, end=c.end,
        packets=c.packets.cast("int64"), share=c.share,
    ).order_by([ibis.desc("packets"), "start", "ports"])


def backscatter(packets: ir.Table, o: EventOptions | None = None, *, b: ir.Table | None = None,
                totals: ir.Table | None = None) -> ir.Table:
    """One source, one UTC day, many replies to traffic the sensors never sent."""
    o = o or EventOptions()
    b = b if b is not None else base(packets, o)
    totals = totals if totals is not None else sensor_days(packets)
    t = b.filter(b.kind == "backscatter")
    keys = ["src", "day"]
    s = t.group_by(keys).aggregate(
        packets=t.n.sum(), sensor_count=t.host.nunique(),
        sensors=t.host.collect(distinct=True).sort().join(","),
        proto=t.proto.collect(distinct=True).sort().join(","),
        types=t.scan_type.collect(distinct=True).sort().join(","),
        start=t.first.min(), end=t.last.max(),
    )
    s = s.filter(s.packets >= o.backscatter_min_packets)
    s = _with_share(s, t, keys, totals)
    return s.select(
        kind=ibis.literal("backscatter"), src=s.src, sources=ibis.literal(1).cast("int64"),
        proto=s.proto, ports=s.types, sensors=s.sensors, sensor_count=s.sensor_count.cast("int64"),
        start=s.start, end=s.end, packets=s.packets.cast("int64"), share=s.share,
    )


def capped(packets: ir.Table, caps: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rate-capped sensors (:func:`honeyscope.analyse.health.capping`) as events: the sensor,
    its first and last bin at or above the ceiling, and the packets of those bins."""
    from honeyscope.analyse import health

    caps = caps if caps is not None else health.capping(packets)
    rows = []
    for r in caps.itertuples(index=False):  # one row per capped sensor and bin size: few
        a = health.activity_expr(packets.filter(packets.host == r.host), r.freq)
        a = a.filter(a.rows >= int(r.cap))
        got = a.aggregate(start=a.bin.min(), end=a.bin.max(), packets=a.rows.sum()).execute()
        unit = health.UNITS[r.freq][1]
        rows.append({
            "kind": "rate-capped", "src": None, "sources": 0, "proto": "", "ports": "",
            "sensors": r.host, "sensor_count": 1, "start": got["start"].iloc[0],
            "end": got["end"].iloc[0] + pd.Timedelta(seconds=unit - 1),
            "packets": int(got["packets"].iloc[0] or 0), "share": float("nan"),
            "note": f"about {int(r.cap)} packets per {r.freq} in {int(r.bins_at_cap):,} {r.freq}s",
        })
    return pd.DataFrame(rows)


def events(packets: ir.Table, options: EventOptions | None = None, *,
           kinds: tuple[str, ...] = KINDS, caps: pd.DataFrame | None = None,
           geo: ir.Table | None = None) -> pd.DataFrame:
    """Every event of ``kinds``, largest first (packets), numbered ``E1``, ``E2``, ... with the
    source's ``cc``/``country`` (the input's own when it carries one) and ``asn``/``as_name``.
    ``caps``: a :func:`honeyscope.analyse.health.capping` result to reuse; ``geo``: a
    :func:`honeyscope.analyse.enrich.source_geo` result to reuse."""
    o = options or EventOptions()
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValueError(f"unknown event kind {bad[0]!r}: use {', '.join(KINDS)}")
    b = base(packets, o).cache()
    totals = sensor_days(packets).cache()
    try:
        exprs = []
        if "flood" in kinds:
            exprs.append(floods(packets, o, b=b, totals=totals))
        if "sweep" in kinds:
            exprs.append(sweeps(packets, o, b=b, totals=totals))
        if "campaign" in kinds:
            exprs.append(campaigns(packets, o, b=b, totals=totals))
        if "backscatter" in kinds:
            exprs.append(backscatter(packets, o, b=b, totals=totals))
        # each kind on its own: one union of all of them plans far slower on DuckDB (measured
        # 6 s against 2 s on the bundled data)
        frames = [e.execute() for e in exprs]
    finally:
        b.release()
        totals.release()
    if "rate-capped" in kinds:
        frames.append(capped(packets, caps))
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=[*COLUMNS, "note"])
    df = pd.concat(frames, ignore_index=True)
    if "note" not in df.columns:
        df["note"] = None
    df = _add_origin(packets, df, geo)
    df["start"] = pd.to_datetime(df["start"], utc=True)
    df["end"] = pd.to_datetime(df["end"], utc=True)
    df = df.sort_values(["packets", "start", "kind", "src"], ascending=[False, True, True, True],
                        na_position="last").reset_index(drop=True)
    df.insert(0, "event", [f"E{i + 1}" for i in range(len(df))])
    return df[[*COLUMNS, "note"]]


def _add_origin(packets: ir.Table, df: pd.DataFrame, geo: ir.Table | None) -> pd.DataFrame:
    """Country and ASN of each event's source (of a /24: of its first address)."""
    addr = df["src"].where(~df["src"].fillna("").str.endswith("/24"),
                           df["src"].fillna("").str.replace(".0/24", ".0", regex=False))
    wanted = sorted({a for a in df["src"].dropna() if not a.endswith("/24")})
    if not wanted:
        for c in ("cc", "country", "asn", "as_name"):
            df[c] = None
        return df
    some = packets.filter(packets.src.isin(wanted))
    g = geo.filter(geo.addr.isin(wanted)) if geo is not None else None
    o = enrich.source_origin(some, geo=g).execute()
    o = o.drop_duplicates("addr").set_index("addr")
    # a /24's geo: that of the first of its sources that has one
    nets = {a.rsplit(".", 1)[0]: a for a in o.index if a.count(".") == 3}
    key = [a if a in o.index else nets.get(str(a).rsplit(".", 1)[0]) for a in addr]
    for c in ("cc", "country", "asn", "as_name"):
        df[c] = [o.at[k, c] if k is not None else None for k in key]
    return df


def describe(e: pd.Series) -> str:
    """One sentence for an event row: who, what, where, when, and how much of the sensor's day."""
    who = str(e["src"]) if isinstance(e["src"], str) else "?"
    asn = f"AS{int(e['asn'])}" if pd.notna(e.get("asn")) else "unknown ASN"
    if isinstance(e.get("as_name"), str) and e["as_name"]:
        asn += f" {e['as_name']}"
    country = e.get("country") if isinstance(e.get("country"), str) and e.get("country") else (
        e.get("cc") if isinstance(e.get("cc"), str) else "unknown country")
    start, end = pd.Timestamp(e["start"]), pd.Timestamp(e["end"])
    when = (f"between {start:%H:%M} and {end:%H:%M} on {start:%Y-%m-%d}"
            if start.date() == end.date() else
            f"between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M}")
    share = (f", {e['share']:.0%} of {'that sensor' if e['sensor_count'] == 1 else 'those sensors'}'"
             f" traffic {'that day' if start.date() == end.date() else 'those days'}"
             if pd.notna(e["share"]) else "")
    share = share.replace("sensor'", "sensor's")
    n = int(e["packets"])
    kind = e["kind"]
    if kind == "flood":
        proto, _, port = str(e["ports"]).partition("/")
        return (f"{who} ({asn}, {country}) sent {n:,} {proto} packets to port {port} on "
                f"{e['sensors']} {when}{share}.")
    if kind == "sweep":
        src = (f"{int(e['sources'])} sources of {who}" if who.endswith("/24") else who)
        return (f"{src} ({asn}, {country}) swept {e['ports']} on {int(e['sensor_count'])} "
                f"sensor(s) ({e['sensors']}) with {n:,} packets {when}{share}.")
    if kind == "campaign":
        return (f"{int(e['sources']):,} sources (busiest {who}, {asn}, {country}) sent {n:,} "
                f"packets to {e['ports']} on {int(e['sensor_count'])} sensor(s) {when}{share}.")
    if kind == "backscatter":
        return (f"{who} ({asn}, {country}) sent {n:,} replies ({e['ports']}) to traffic the "
                f"sensors never sent, on {e['sensors']} {when}{share}: backscatter of a "
                "spoofed-source attack.")
    return (f"Sensor {e['sensors']} looks rate-capped ({e.get('note')}) {when}: "
            f"{n:,} packets in its capped bins are lower bounds.")


def for_day(ev: pd.DataFrame, host: str, day) -> list[str]:
    """The events touching sensor ``host`` (any sensor when empty) on UTC ``day``."""
    if ev is None or ev.empty or day is None or pd.isna(day):
        return []
    d = pd.Timestamp(day).date()
    hit = (ev["start"].dt.date <= d) & (ev["end"].dt.date >= d)
    if host:
        hit &= ev["sensors"].fillna("").str.split(",").map(lambda s: host in s)
    return ev.loc[hit, "event"].tolist()
