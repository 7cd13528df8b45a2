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


UNKNOWN = "unknown"


def origin_tables(s, total: int | None = None):
    """Countries and ASNs by packets from :func:`enrich.sources` rows ``s``: each source's
    country is the input's own (``input_cc``, contemporaneous with the traffic) when it carries
    one, else the database's; sources without a country / ASN are counted apart, once, and not
    ranked. Returns (by_cc, by_asn, unknown_cc, unknown_asn) with (sources, packets) pairs."""
    s = s.copy()
    total = total if total is not None else int(s.packets.sum())
    use_input = s.input_cc.notna() & (s.input_cc != "")
    s["cc_used"] = s.input_cc.where(use_input, s.cc)
    s["country_used"] = s.input_country.where(use_input, s.country)
    s["country_used"] = s.country_used.where(s.country_used.notna() & (s.country_used != ""),
                                             s.cc_used)
    known_cc = s[s.cc_used.notna() & (s.cc_used != "")]
    by_cc = (
        known_cc.groupby(["cc_used", "country_used"], dropna=False)
        .agg(sources=("addr", "size"), packets=("packets", "sum"))
        .reset_index().rename(columns={"cc_used": "cc", "country_used": "country"})
        .sort_values(["packets", "cc"], ascending=[False, True])
    )
    by_cc["share"] = by_cc.packets / total
    known_asn = s[s.asn.notna()].copy()
    known_asn["as_name"] = known_asn.as_name.where(
        known_asn.as_name.notna() & (known_asn.as_name != ""), UNKNOWN)
    by_asn = (
        known_asn.groupby(["asn", "as_name"], dropna=False)
        .agg(sources=("addr", "size"), packets=("packets", "sum"))
        .reset_index().sort_values(["packets", "asn"], ascending=[False, True])
    )
    by_asn["asn"] = by_asn.asn.astype("int64")
    # the country of an AS: its sources' most common database country
    cc_of = (known_asn.dropna(subset=["cc"]).groupby(["asn", "cc"]).size().reset_index(name="n")
             .sort_values(["asn", "n", "cc"], ascending=[True, False, True])
             .drop_duplicates("asn").set_index("asn")["cc"])
    by_asn["cc"] = by_asn.asn.map(cc_of).fillna(UNKNOWN)
    by_asn["share"] = by_asn.packets / total
    no_cc = s[~(s.cc_used.notna() & (s.cc_used != ""))]
    no_asn = s[s.asn.isna()]
    return (by_cc, by_asn, (len(no_cc), int(no_cc.packets.sum())),
            (len(no_asn), int(no_asn.packets.sum())))


def _origin(ctx: ReportContext, shared: Shared) -> Section:
    from honeyscope.analyse import enrich

    meta = enrich.geo_meta()
    ctx.meta.setdefault("enrichment", meta)
    s = enrich.sources(ctx.packets, geo=shared.geo).execute()
    if s.empty:
        return Section("origin", "Where the sources are", para("No packets."))
    total = int(s.packets.sum())
    by_cc, by_asn, no_cc, no_asn = origin_tables(s, total)
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
                 "sweep_seconds", "median_lag_seconds", "order"]].copy()
    # compact enough for one line a row at 800 px: minutes, hours, and the chain shortened
    for c in ("first_seen", "last_seen"):
        shown[c] = shown[c].map(lambda v: "NA" if v is None or v != v else f"{v:%Y-%m-%d %H:%M}")
    shown["sweep_seconds"] = shown["sweep_seconds"] / 3600
    shown["median_lag_seconds"] = shown["median_lag_seconds"] / 3600
    shown = shown.rename(columns={"first_seen": "first seen", "last_seen": "last seen",
                                  "sweep_seconds": "sweep (h)", "median_lag_seconds": "lag (h)"})
    with warnings.catch_warnings():  # bars on a log scale start at log10(0): expected, harmless
        warnings.filterwarnings("ignore", "divide by zero", RuntimeWarning)
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
    found = scans.scans(ctx.packets, summary=summary, geo=shared.geo).execute()  # counts in pandas
    counts = (
        found.groupby(["pattern", "scan_type"])
        .agg(scans=("src", "size"), sources=("src", "nunique"), packets=("packets", "sum"))
        .reset_index().sort_values(["pattern", "packets"], ascending=[True, False])
    )
    top = found.head(20).copy()
    if types.empty:
        return Section("scans", "Scans and backscatter", para("No packets."))
    top["asn"] = top["asn"].map(lambda v: "unknown" if v != v or v is None else f"AS{int(v)}")
    top["as_name"] = top["as_name"].where(top["as_name"].notna() & (top["as_name"] != ""),
                                          "unknown")
    # distinct sources per kind: a source with several scan types counts once
    kinds = summary.group_by("kind").aggregate(
        packets=summary.packets.sum(), sources=summary.src.nunique()).execute()
    kinds = kinds.set_index("kind")
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
        by = found.groupby("pattern").src.nunique()
        f = ("Scans found (distinct sources): " + ", ".join(
            f"{int(v):,} {k}" for k, v in by.sort_values(ascending=False).items()) + ".")
        findings.append(f)
        refs[f] = ("scans-top", "Scans and backscatter: largest scans")
    return Section("scans", "Scans and backscatter", "".join(body), findings, refs)
