"""Report sections: where sources come from (offline country/ASN), fair comparison of sensors,
sources across the fleet, scans and backscatter.

The four sections share what they can, computed once per report on the engine and released at
the end (:class:`Shared`): the enriched distinct sources (country, ASN and /24|/64 prefix, one
range look-up for both the origin and the comparison), the per sensor-day counts (the sensor
table and the daily rates both read them), and the per source-and-type scan summary (the type
counts and the scans both read it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import ibis
import pandas as pd

from honeyscope.analyse.enrich import UNKNOWN
from honeyscope.render import charts
from honeyscope.render.html import Section, compact, figure, key_values, para, table
from honeyscope.render.sections import ReportContext


class Shared:
    """Intermediate tables the fleet sections share, each materialised on the engine at most
    once (``Table.cache()``: a temporary table on DuckDB, a persisted DataFrame on Spark)."""

    def __init__(self, packets: ibis.Table) -> None:
        self.packets = packets
        self._tables: dict[str, ibis.Table] = {}

    def _get(self, name: str, make: Callable[[], ibis.Table]) -> ibis.Table:
        if name not in self._tables:
            from honeyscope.analyse.engine import cache_table

            self._tables[name] = cache_table(make())
        return self._tables[name]

    @property
    def geo(self) -> ibis.Table:
        """Distinct sources with country, ASN and prefix (:func:`enrich.source_geo`)."""
        from honeyscope.analyse import enrich

        return self._get("geo", lambda: enrich.source_geo(self.packets))

    @property
    def by_sensor_day(self) -> ibis.Table:
        from honeyscope.analyse import fleet

        prefixes = fleet.source_prefixes(self.packets, geo=self.geo)
        return self._get("by_sensor_day",
                         lambda: fleet.fair_by_sensor(self.packets, "day", prefixes))

    @property
    def scan_summary(self) -> ibis.Table:
        from honeyscope.analyse import scans

        return self._get("scan_summary", lambda: scans.scan_summary(self.packets))

    @property
    def sources(self) -> ibis.Table:
        """One row per source with its origin (:func:`enrich.sources`)."""
        from honeyscope.analyse import enrich

        return self._get("sources", lambda: enrich.sources(self.packets, geo=self.geo))

    @property
    def profiles(self) -> ibis.Table:
        """One row per source across the fleet (:func:`fleet.source_profiles`)."""
        from honeyscope.analyse import fleet

        # N, the fleet size, from the cached sensor-day counts rather than another pass
        n_sensors = int(self.by_sensor_day.host.nunique().execute())
        return self._get("profiles", lambda: fleet.source_profiles(self.packets, n_sensors))

    @property
    def scans(self) -> ibis.Table:
        """The scans found (:func:`scans.scans`)."""
        from honeyscope.analyse import scans

        return self._get("scans", lambda: scans.scans(self.packets, summary=self.scan_summary,
                                                      geo=self.geo))

    def release(self) -> None:
        for t in self._tables.values():
            t.release()
        self._tables.clear()


def build(ctx: ReportContext) -> list[Section]:
    out: list[Section] = []
    timings: dict[str, float] = {}
    shared = Shared(ctx.packets)
    try:
        for name, fn in (("origin", _origin), ("compare", _compare), ("sources", _sources),
                         ("scans", _scans)):
            t0 = time.perf_counter()
            ctx.step(f"{name} section")
            out.append(fn(ctx, shared))
            timings[name] = time.perf_counter() - t0
    finally:
        shared.release()
    ctx.meta.setdefault("timings", {}).update({f"section:{k}": v for k, v in timings.items()})
    for s in out:
        ctx.findings.extend(s.findings)
    return out




def origin_tables(s: ibis.Table | pd.DataFrame):
    """Countries and ASNs by packets from :func:`enrich.sources` rows ``s`` (an Ibis table, or
    a DataFrame of such rows), executed: (by_cc, by_asn, unknown_cc, unknown_asn) with the last
    two (sources, packets) pairs. The rules are :func:`enrich.by_country` / :func:`enrich.by_asn`
    / :func:`enrich.origin_unknown`'s."""
    from honeyscope.analyse import enrich

    t = ibis.memtable(s) if isinstance(s, pd.DataFrame) else s
    by_cc = enrich.by_country(t).execute()
    by_asn = enrich.by_asn(t).execute()
    u = enrich.origin_unknown(t).execute().fillna(0).iloc[0]
    return (by_cc, by_asn, (int(u.no_cc_sources), int(u.no_cc_packets)),
            (int(u.no_asn_sources), int(u.no_asn_packets)))


def _origin(ctx: ReportContext, shared: Shared) -> Section:
    from honeyscope.analyse import enrich

    meta = enrich.geo_meta()
    ctx.meta.setdefault("enrichment", meta)
    s = shared.sources.execute()
    if s.empty:
        return Section("origin", "Where the sources are", para("No packets."))
    total = int(s.packets.sum())
    by_cc, by_asn, no_cc, no_asn = origin_tables(shared.sources)
    has_input = s.input_cc.notna() & (s.input_cc != "")
    body = [
        key_values([
            ("database", meta["name"]),
            ("built", meta["built"]),
            ("licence", meta["license"]),
            ("attribution", meta["attribution"]),
            ("sources", len(s)),
            ("sources with no country (private, bogon, unallocated)", no_cc[0]),
            ("sources with no ASN", no_asn[0]),
        ]),
    ]
    if has_input.any():
        agree = float((s.input_cc[has_input] == s.cc[has_input]).mean())
        body.append(para(
            f"Countries: the input's own country codes, contemporaneous with the traffic, for the "
            f"{int(has_input.sum()):,} sources that carry one (the database's for the others). "
            f"Cross-check: the offline database ({meta['built'][:10]}) agrees for {agree:.1%} of "
            "them. ASNs: from the database (the input carries none): addresses that moved since "
            "the traffic was logged are attributed to their newer holder."))
        cc_caption = "Countries by packets, as the input carried them (top 20)"
    else:
        body.append(para(
            "Looked up offline in the shipped range table (no network). The database is from "
            f"{meta['built'][:10]}: addresses that moved since the traffic was logged are "
            "attributed to their newer holder."))
        cc_caption = "Countries by packets (top 20)"
    body.append(table(by_cc.head(20), caption=cc_caption, max_rows=20, id="origin-countries"))
    if no_cc[0]:
        body.append(para(f"Not ranked: {no_cc[0]:,} sources ({no_cc[1]:,} packets, "
                         f"{no_cc[1] / total:.1%}) have an unknown country."))
    body.append(table(by_asn.head(20), caption="Autonomous systems by packets (top 20; AS names "
                                               "the database lacks: unknown)", max_rows=20,
                      id="origin-asns"))
    if no_asn[0]:
        body.append(para(f"Not ranked: {no_asn[0]:,} sources ({no_asn[1]:,} packets, "
                         f"{no_asn[1] / total:.1%}) have an unknown ASN (private, bogon or "
                         "unallocated addresses)."))
    findings, refs = [], {}
    if len(by_cc):
        top = by_cc.iloc[0]
        f = (f"{top.country} sent {top.share:.1%} of all packets "
             f"({int(top.packets):,}) from {int(top.sources):,} sources.")
        findings.append(f)
        refs[f] = ("origin-countries", "Where the sources are: countries by packets")
    if len(by_asn):
        a = by_asn.iloc[0]
        name = "" if a.as_name == UNKNOWN else f" {a.as_name}"
        f = (f"The busiest network is AS{int(a.asn)}{name} "
             f"({int(a.packets):,} packets, {int(a.sources):,} sources).")
        findings.append(f)
        refs[f] = ("origin-asns", "Where the sources are: autonomous systems by packets")
    return Section("origin", "Where the sources are", "".join(body), findings, refs)


def _compare(ctx: ReportContext, shared: Shared) -> Section:
    from honeyscope.analyse import fleet

    prefixes = fleet.source_prefixes(ctx.packets, geo=shared.geo)
    per_t = shared.by_sensor_day
    daily = fleet.fair_daily(ctx.packets, prefixes=prefixes, by_sensor=per_t).execute()
    sensors = fleet.compare_sensors(ctx.packets, by_sensor=per_t).execute()
    if daily.empty:
        return Section("compare", "Fair comparison", para("No packets."))
    # one line per measure, coloured in the measures' sorted order (as ggplot2's colour scale)
    measures = sorted(["sources_per_sensor", "prefixes_per_sensor", "asns_per_sensor"])
    order = daily.sort_values("period")
    x = charts._days(order["period"])
    plot = charts.Series(
        [(m, x, order[m].to_numpy(dtype=float)) for m in measures], charts.hue_palette(len(measures)),
        title="Unique sources, /24|/64 prefixes and ASNs per reporting sensor", xlab="day",
        ylab="unique per reporting sensor", legend="measure")
    full = int(daily.sensors.max())
    partial = int((daily.sensors < full).sum())
    body = (
        para("Rates divided by the number of sensors that reported that day, so a day when part "
             "of the fleet was down does not look like a lull; unique sources also counted as "
             "/24 (IPv4) or /64 (IPv6) prefixes and as ASNs.")
        + figure(plot, title="Unique sources, prefixes and ASNs per reporting sensor, per day")
        + table(sensors, caption="Per sensor: means over the days it reported", id="compare-sensors")
    )
    t = sensors.iloc[0]
    ratio = float((daily.sources / daily.prefixes).mean())
    findings = [
        f"{t.host} is the busiest sensor with {t.packets_per_day:,.0f} packets and "
        f"{t.sources_per_day:,.0f} unique sources per reporting day.",
        f"On average a day's sources fall into {1 / ratio:.0%} as many prefixes as there are "
        f"sources; {partial} of {len(daily)} days had fewer than all {full} sensors reporting.",
    ]
    refs = {findings[0]: ("compare-sensors", "Fair comparison: per sensor")}
    return Section("compare", "Fair comparison", body, findings, refs)


def _sources(ctx: ReportContext, shared: Shared) -> Section:
    from honeyscope.analyse import fleet

    prof = shared.profiles
    reach = fleet.reach_summary(prof).execute()
    if reach.empty:
        return Section("sources", "Sources across the fleet", para("No packets."))
    k = fleet.sensors_reached(prof).execute()
    top = prof.order_by([ibis.desc("sensors"), ibis.desc("packets"), "src"]).limit(15).execute()
    n = int(top.fleet.iloc[0]) if len(top) else 0
    bars = k.sort_values("sensors")  # factor(sensors): the levels in numeric order
    plot = charts.LogBars([str(int(v)) for v in bars["sensors"]], bars["sources"].to_numpy(dtype=float),
                          title=f"How many of the {n} sensors each source reached",
                          xlab="sensors reached (k)", ylab="sources (log scale)")
    shown = top[["src", "packets", "sensors", "ports", "protocols", "first_seen", "last_seen",
                 "sweep_seconds", "median_lag_seconds", "order"]].copy()
    # compact enough for one line a row at 800 px: minutes, hours, and the chain shortened
    for c in ("first_seen", "last_seen"):
        shown[c] = shown[c].map(lambda v: "NA" if v is None or v != v else f"{v:%Y-%m-%d %H:%M}")
    shown["sweep_seconds"] = shown["sweep_seconds"] / 3600
    shown["median_lag_seconds"] = shown["median_lag_seconds"] / 3600
    shown = shown.rename(columns={"first_seen": "first seen", "last_seen": "last seen",
                                  "sweep_seconds": "sweep (h)", "median_lag_seconds": "lag (h)"})
    chart = figure(plot, title="Sensors reached per source")
    body = (
        table(reach, caption="Sources per reach level", id="sources-reach")
        + chart
        + table(shown, caption="Sources that reached the most sensors (order: the first two "
                               "sensors reached, +N more; the whole chain on hover; lag: median "
                               "time from one sensor to the next)",
                id="sources-top", html_cells={"order": lambda v: compact(v, 3, ">")})
    )
    total = int(reach.sources.sum())
    whole = reach.loc[reach.reach == 4]
    once = reach.loc[reach.reach == 0]
    findings = []
    if len(whole):
        findings.append(
            f"{int(whole.sources.iloc[0]):,} of {total:,} sources ({whole.sources.iloc[0] / total:.1%})"
            f" reached all {n} sensors and sent {int(whole.packets.iloc[0]):,} packets."
        )
    if len(once):
        findings.append(f"{int(once.sources.iloc[0]):,} sources ({once.sources.iloc[0] / total:.1%}) "
                        "touched one sensor with a single packet.")
    ref = ("sources-reach", "Sources across the fleet: sources per reach level")
    return Section("sources", "Sources across the fleet", body, findings,
                   {f: ref for f in findings})


def _scans(ctx: ReportContext, shared: Shared) -> Section:
    from honeyscope.analyse import scans

    summary = shared.scan_summary
    types = scans.type_counts(ctx.packets, summary=summary).execute()
    counts = scans.pattern_counts(shared.scans).execute()
    # the largest first, as :func:`scans.scans` orders them (a cached table keeps no order)
    top = shared.scans.order_by([ibis.desc("packets"), "src", "scan_type"]).limit(20).execute()
    if types.empty:
        return Section("scans", "Scans and backscatter", para("No packets."))
    top["asn"] = top["asn"].map(lambda v: "unknown" if v != v or v is None else f"AS{int(v)}")
    top["as_name"] = top["as_name"].where(top["as_name"].notna() & (top["as_name"] != ""),
                                          "unknown")
    # distinct sources per kind: a source with several scan types counts once
    kinds = scans.kind_counts(summary).execute().set_index("kind")
    h = scans.WINDOW_HOURS
    body = [
        para("Scan types follow psad: TCP flags (SYN, FIN, NULL, XMAS, ACK), UDP, ping and other "
             "IP protocols. Backscatter (replies to spoofed traffic, not probes): SYN-ACK, RST, "
             "echo replies, ICMP errors (unreachable, source quench, time exceeded, parameter "
             "problem), UDP from port 53 to a client port (>= 1024: DNS answers), and, when the "
             "input carries no TCP flags, TCP from a service port (1-1023) to a client port. ICMP "
             "redirects are neither (a router's advice, not a reply). Ports and targets are "
             f"counted within {h:g}-hour windows: vertical, >= 10 ports on one target; "
             "horizontal, one port on >= 5 targets; block: both."),
        table(types, caption="Packets per scan type (sources: distinct per type)",
              id="scans-types"),
        table(counts, caption="Scans per pattern"),
        table(top[["src", "cc", "asn", "as_name", "scan_type", "pattern", "kind", "packets",
                   "targets", "ports", "port_range", "first_seen", "last_seen"]],
              caption="Largest scans", id="scans-top"),
    ]
    if types.scan_type.eq("TCP").any() and not types.scan_type.isin(
            ["SYN", "FIN", "NULL", "XMAS", "ACK"]).any():
        body.insert(1, para("This input carries no TCP flags, so TCP scans cannot be told apart "
                            "by type (shown as TCP)."))
    findings, refs = [], {}
    if "backscatter" in kinds.index:
        b = kinds.loc["backscatter"]
        f = (f"{int(b.packets):,} packets from {int(b.sources):,} distinct sources are "
             "backscatter (replies to spoofed traffic), not probes.")
        findings.append(f)
        refs[f] = ("scans-types", "Scans and backscatter: packets per scan type")
    if len(counts):
        by = scans.pattern_sources(shared.scans).execute()
        f = ("Scans found (distinct sources): " + ", ".join(
            f"{int(r.sources):,} {r.pattern}" for r in by.itertuples()) + ".")
        findings.append(f)
        refs[f] = ("scans-top", "Scans and backscatter: largest scans")
    return Section("scans", "Scans and backscatter", "".join(body), findings, refs)
