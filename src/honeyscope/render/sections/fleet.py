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
import warnings
from collections.abc import Callable

import ibis
import plotnine as p9

from honeyscope.render.html import Section, figure, key_values, para, table
from honeyscope.render.sections import ReportContext


class Shared:
    """Intermediate tables the fleet sections share, each materialised on the engine at most
    once (``Table.cache()``: a temporary table on DuckDB, a persisted DataFrame on Spark)."""

    def __init__(self, packets: ibis.Table) -> None:
        self.packets = packets
        self._tables: dict[str, ibis.Table] = {}

    def _get(self, name: str, make: Callable[[], ibis.Table]) -> ibis.Table:
        if name not in self._tables:
            expr = make()
            # Ibis' pyspark cache() runs the SQL without registering the in-memory tables it
            # reads (the range tables) first; every other execution path does this step
            register = getattr(self.packets._find_backend(), "_run_pre_execute_hooks", None)
            if register is not None:
                register(expr)
            self._tables[name] = expr.cache()
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


def _origin(ctx: ReportContext, shared: Shared) -> Section:
    from honeyscope.analyse import enrich

    meta = enrich.geo_meta()
    ctx.meta.setdefault("enrichment", meta)
    s = enrich.sources(ctx.packets, geo=shared.geo).execute()
    if s.empty:
        return Section("origin", "Where the sources are", para("No packets."))
    total = int(s.packets.sum())
    by_cc = (
        s.groupby(["cc", "country"], dropna=False)
        .agg(sources=("addr", "size"), packets=("packets", "sum"))
        .reset_index().sort_values("packets", ascending=False)
    )
    by_cc["share"] = by_cc.packets / total
    by_asn = (
        s.groupby(["asn", "as_name", "cc"], dropna=False)
        .agg(sources=("addr", "size"), packets=("packets", "sum"))
        .reset_index().sort_values("packets", ascending=False)
    )
    unresolved = int(s.cc.isna().sum())
    body = [
        key_values([
            ("database", meta["name"]),
            ("built", meta["built"]),
            ("licence", meta["license"]),
            ("attribution", meta["attribution"]),
            ("sources", len(s)),
            ("sources with no country (private, bogon, unallocated)", unresolved),
        ]),
        para("Looked up offline in the shipped range table (no network). The database is from "
             f"{meta['built'][:10]}: addresses that moved since the traffic was logged are "
             "attributed to their newer holder."),
    ]
    has_input = s.input_cc.notna()
    findings = []
    if has_input.any():
        agree = float((s.input_cc[has_input] == s.cc[has_input]).mean())
        body.append(para(f"The input carried its own country codes for {int(has_input.sum()):,} "
                         f"sources; the offline database agrees for {agree:.1%} of them."))
    body.append(table(by_cc.head(20), caption="Countries by packets (top 20)", max_rows=20))
    body.append(table(by_asn.head(20), caption="Autonomous systems by packets (top 20)",
                      max_rows=20))
    # the busiest resolved country and network (unresolved sources group under NA)
    known_cc = by_cc[by_cc.cc.notna()]
    if len(known_cc):
        top = known_cc.iloc[0]
        name = top.country if isinstance(top.country, str) and top.country else top.cc
        findings.append(f"{name} sent {top.share:.1%} of all packets "
                        f"({int(top.packets):,}) from {int(top.sources):,} sources.")
    known_asn = by_asn[by_asn.asn.notna()]
    if len(known_asn):
        a = known_asn.iloc[0]
        findings.append(f"The busiest network is AS{int(a.asn)} {a.as_name} "
                        f"({int(a.packets):,} packets, {int(a.sources):,} sources).")
    return Section("origin", "Where the sources are", "".join(body), findings)


def _compare(ctx: ReportContext, shared: Shared) -> Section:
    from honeyscope.analyse import fleet

    prefixes = fleet.source_prefixes(ctx.packets, geo=shared.geo)
    per_t = shared.by_sensor_day
    daily = fleet.fair_daily(ctx.packets, prefixes=prefixes, by_sensor=per_t).execute()
    per = per_t.execute()
    sensors = (
        per.groupby("host")
        .agg(days=("period", "nunique"), packets=("packets", "sum"),
             packets_per_day=("packets", "mean"), sources_per_day=("sources", "mean"),
             prefixes_per_day=("prefixes", "mean"), asns_per_day=("asns", "mean"))
        .reset_index().sort_values("packets_per_day", ascending=False)
    )
    if daily.empty:
        return Section("compare", "Fair comparison", para("No packets."))
    long = daily.melt(
        id_vars="period", value_vars=["sources_per_sensor", "prefixes_per_sensor",
                                      "asns_per_sensor"],
        var_name="measure", value_name="value",
    )
    plot = (
        p9.ggplot(long, p9.aes("period", "value", color="measure"))
        + p9.geom_line()
        + p9.labs(x="day", y="unique per reporting sensor",
                  title="Unique sources, /24|/64 prefixes and ASNs per reporting sensor")
        + p9.theme_bw()
    )
    full = int(daily.sensors.max())
    partial = int((daily.sensors < full).sum())
    body = (
        para("Rates divided by the number of sensors that reported that day, so a day when part "
             "of the fleet was down does not look like a lull; unique sources also counted as "
             "/24 (IPv4) or /64 (IPv6) prefixes and as ASNs.")
        + figure(plot, title="Unique sources, prefixes and ASNs per reporting sensor, per day")
        + table(sensors, caption="Per sensor: means over the days it reported")
    )
    t = sensors.iloc[0]
    ratio = float((daily.sources / daily.prefixes).mean())
    findings = [
        f"{t.host} is the busiest sensor with {t.packets_per_day:,.0f} packets and "
        f"{t.sources_per_day:,.0f} unique sources per reporting day.",
        f"On average a day's sources fall into {1 / ratio:.0%} as many prefixes as there are "
        f"sources; {partial} of {len(daily)} days had fewer than all {full} sensors reporting.",
    ]
    return Section("compare", "Fair comparison", body, findings)


def _sources(ctx: ReportContext, shared: Shared) -> Section:
    from honeyscope.analyse import fleet

    # N, the fleet size, from the cached sensor-day counts rather than another pass
    n_sensors = int(shared.by_sensor_day.host.nunique().execute())
    prof = fleet.source_profiles(ctx.packets, n_sensors).execute()  # summaries in pandas
    if prof.empty:
        return Section("sources", "Sources across the fleet", para("No packets."))
    reach = (
        prof.groupby(["reach", "reach_label"])
        .agg(sources=("src", "size"), packets=("packets", "sum"))
        .reset_index().sort_values("reach")
    )
    k = (
        prof.groupby("sensors").agg(sources=("src", "size"), packets=("packets", "sum"))
        .reset_index()
    )
    top = prof.sort_values(["sensors", "packets", "src"], ascending=[False, False, True]).head(15)
    n = int(top.fleet.iloc[0]) if len(top) else 0
    plot = (
        p9.ggplot(k, p9.aes("factor(sensors)", "sources"))
        + p9.geom_col(fill="#4477aa")
        + p9.scale_y_log10()
        + p9.labs(x="sensors reached (k)", y="sources (log scale)",
                  title=f"How many of the {n} sensors each source reached")
        + p9.theme_bw()
    )
    shown = top[["src", "packets", "sensors", "ports", "protocols", "first_seen", "last_seen",
                 "sweep_seconds", "median_lag_seconds", "order"]]
    with warnings.catch_warnings():  # bars on a log scale start at log10(0): expected, harmless
        warnings.filterwarnings("ignore", "divide by zero", RuntimeWarning)
        chart = figure(plot, title="Sensors reached per source")
    body = (
        table(reach, caption="Sources per reach level")
        + chart
        + table(shown, caption="Sources that reached the most sensors")
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
    return Section("sources", "Sources across the fleet", body, findings)


def _scans(ctx: ReportContext, shared: Shared) -> Section:
    from honeyscope.analyse import scans

    summary = shared.scan_summary
    types = scans.type_counts(ctx.packets, summary=summary).execute()
    found = scans.scans(ctx.packets, summary=summary).execute()  # counts in pandas
    counts = (
        found.groupby(["pattern", "scan_type"])
        .agg(scans=("src", "size"), sources=("src", "nunique"), packets=("packets", "sum"))
        .reset_index().sort_values(["pattern", "packets"], ascending=[True, False])
    )
    top = found.head(20)
    if types.empty:
        return Section("scans", "Scans and backscatter", para("No packets."))
    body = [
        para("Scan types follow psad: TCP flags (SYN, FIN, NULL, XMAS, ACK), UDP, ping and other "
             "IP protocols; SYN-ACK, RST, echo replies and ICMP errors are backscatter (replies to "
             "spoofed traffic), not probes. Vertical: ≥ 10 ports on one target; horizontal: one "
             "port on ≥ 5 targets; block: both."),
        table(types, caption="Packets per scan type"),
        table(counts, caption="Scans per pattern"),
        table(top[["src", "scan_type", "pattern", "kind", "packets", "targets", "ports",
                   "port_range", "first_seen", "last_seen"]], caption="Largest scans"),
    ]
    if types.scan_type.eq("TCP").any() and not types.scan_type.isin(
            ["SYN", "FIN", "NULL", "XMAS", "ACK"]).any():
        body.insert(1, para("This input carries no TCP flags, so TCP scans cannot be told apart "
                            "by type (shown as TCP)."))
    findings = []
    bs = types[types.kind == "backscatter"]
    if len(bs):
        findings.append(f"{int(bs.packets.sum()):,} packets from {int(bs.sources.sum()):,} "
                        "sources are backscatter (replies to spoofed traffic), not probes.")
    if len(counts):
        by = counts.groupby("pattern").sources.sum()
        findings.append("Scans found: " + ", ".join(
            f"{int(v):,} {k}" for k, v in by.sort_values(ascending=False).items()) + ".")
    return Section("scans", "Scans and backscatter", "".join(body), findings)

