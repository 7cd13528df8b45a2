"""Parts 1 and 2 of "Inspecting Internet Traffic": summary, protocols, daily counts, ports."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from honeyscope.analyse import explore
from honeyscope.render import charts, console
from honeyscope.render.escape import chart_label
from honeyscope.render.escape import html as esc
from honeyscope.render.html import Section, figure, para, table
from honeyscope.render.sections import ReportContext

HEAT_PORTS = 15


def build(ctx: ReportContext) -> list[Section]:
    t = ctx.packets
    if int(t.count().execute()) == 0:
        return []
    step = ctx.step
    out = []
    step("summary")
    out.append(_summary(t))
    step("protocols")
    out.append(_protocols(t))
    step("daily counts")
    out.extend(_daily(t))
    step("ports")
    out.append(_ports(t))
    step("port metric")
    out.append(_port_sources(t))
    return [s for s in out if s is not None]


def _summary(t: ibis.Table) -> Section:
    df = explore.summary(t)
    text = console.summary_text(df)
    body = (
        para("R's summary() of every column, made domain-aware: ports and ICMP types also as "
             "categories, addresses as distinct counts (as part 1 of the posts does).")
        + f'<pre class="summary">{esc(text)}</pre>'
    )
    return Section("summary", "Summary of every column", body)


def _protocols(t: ibis.Table) -> Section:
    protos = explore.count(t, ["proto"])
    total = int(protos["count"].sum())
    protos["share %"] = (100 * protos["count"] / total).round(1)
    icmp = explore.count(t.filter(t.proto.isin(["ICMP", "ICMPv6"])), ["icmp_type"])
    body = table(protos, caption="packets per protocol", digits=1) + table(
        icmp, caption="ICMP packets per type (names from the IANA registry)"
    )
    top = protos.sort_values("count", ascending=False).iloc[0]
    finding = (
        f"{top['proto']} is {top['share %']:.1f}% of all packets"
        + (
            f"; the commonest ICMP type is {int(icmp.iloc[icmp['count'].idxmax()]['icmp_type'])} "
            f"({icmp.iloc[icmp['count'].idxmax()].get('name', '')})."
            if len(icmp) and icmp["icmp_type"].notna().any()
            else "."
        )
    )
    return Section("protocols", "Protocols and ICMP types", body, [finding])


def _daily(t: ibis.Table) -> list[Section]:
    packets = explore.daily(t)
    unique = explore.daily(t, unique=True)
    ma = explore.moving_average(unique, 7)  # from the counts above: no second count
    hosts = packets["host"].nunique()
    h = max(3.2, 2.2 * ((hosts + 2) // 3))

    # biggest spikes: a sensor's day against that sensor's median day
    med = packets.groupby("host")["value"].transform("median").clip(lower=1)
    spikes = packets.assign(ratio=packets["value"] / med).nlargest(5, "ratio")
    spikes = spikes.rename(columns={"value": "packets", "ratio": "× median day"})
    spikes["day"] = spikes["day"].dt.date
    top = spikes.iloc[0]
    spike_note = (
        f"The biggest spike: {top['host']} on {top['day']} with {int(top['packets']):,} packets, "
        f"{top['× median day']:.0f}× its median day."
    )
    busiest = ma.groupby("host")["value"].mean().sort_values(ascending=False)
    if len(busiest):
        ma_notes = [
            "By the 7-day average of distinct sources, the busiest sensors are "
            + ", ".join(f"{h} ({v:.0f}/day)" for h, v in busiest.head(3).items())
            + f"; the quietest is {busiest.index[-1]} ({busiest.iloc[-1]:.0f}/day)."
        ]
        ma_body = figure(
            charts.daily_chart(ma, "fixed", "7-day moving average of distinct sources",
                               "distinct sources (7-day average)"),
            title="7-day moving average of distinct sources (shared scale)", width=10, height=h)
    else:
        ma_notes = []
        ma_body = para("No sensor has the 7 consecutive days a 7-day average needs.")
    return [
        Section(
            "daily",
            "Packets per sensor per day",
            para("Each panel has its own y scale (part 1's free scales): compare shapes, not heights. "
                 "Days inside a sensor's span without packets count as 0.")
            + figure(charts.daily_chart(packets, "free", "Packets per sensor per day", "packets"),
                     title="Packets per sensor per day (free scales)", width=10, height=h)
            + table(spikes[["host", "day", "packets", "× median day"]],
                    caption="the five biggest spikes (a day against the sensor's median day)"),
            [spike_note],
        ),
        Section(
            "unique",
            "Distinct sources per sensor per day",
            para("Counting each source once per sensor and day removes the weight of the few sources "
                 "that send thousands of packets.")
            + figure(charts.daily_chart(unique, "free", "Distinct sources per sensor per day",
                                        "distinct sources"),
                     title="Distinct sources per sensor per day (free scales)", width=10, height=h),
        ),
        Section(
            "moving-average",
            "7-day moving average of distinct sources",
            para("Centred 7-day moving average (R's stats::filter(x, rep(1/7, 7), sides = 2)); one "
                 "shared y scale, so heights compare across sensors.")
            + ma_body,
            ma_notes,
        ),
    ]


def _ports(t: ibis.Table) -> Section:
    parts = []
    findings = []
    top = {}
    for proto in ("tcp", "udp"):
        # TCP's top 15 feed the heat map too; the tables show 10
        top[proto] = explore.ports(t, proto=proto, top=HEAT_PORTS if proto == "tcp" else 10)
        total = int(top[proto]["count"].sum()) + int(top[proto].attrs.get("other", 0))
        df = top[proto].head(10).copy()
        if not len(df):
            continue
        df["share %"] = (100 * df["count"] / max(total, 1)).round(1)
        parts.append(table(df, caption=f"top {proto.upper()} destination ports (packets)", digits=1))
        findings.append(
            f"Top {proto.upper()} ports: "
            + ", ".join(f"{int(r.port)} ({int(r.count):,})" for r in df.head(3).itertuples())
            + "."
        )
    heat = top["tcp"]
    if len(heat):
        ports = heat["port"].tolist()
        # ordered by host and port: the same drawing order, the same image, every run
        per_host = explore.port_host_share_expr(t, ports, "tcp").execute()
        per_host["port"] = pd.Categorical(per_host["dpt"].astype(int).astype(str),
                                          categories=[str(p) for p in ports], ordered=True)
        per_host["host"] = per_host["host"].map(chart_label)
        # geom_tile's grid: sensors (sorted, the first at the bottom) by ports (rank order)
        grid = per_host.pivot_table(index="host", columns="port", values="share", aggfunc="first",
                                    observed=False, dropna=False).sort_index()
        p = charts.Tiles(
            [str(c) for c in grid.columns], [str(h) for h in grid.index],
            grid.to_numpy(dtype=float, na_value=np.nan),
            title=f"Sensor × port: how each sensor's packets to the top {len(ports)} TCP ports split",
            xlab="TCP destination port", ylab="sensor", legend="share of\nsensor's packets")
        hosts = len(grid)
        parts.append(figure(p, title="Sensor × TCP port heat map", width=10, height=1.5 + 0.35 * hosts))
    return Section("ports", "Destination ports", "".join(parts), findings)


def _port_sources(t: ibis.Table) -> Section | None:
    df = explore.port_sources(t, proto="tcp", top=10)
    if not len(df):
        return None
    means = (
        df.groupby("port", sort=False)["value"]
        .agg(["mean", "median", "min", "max"])
        .reindex(df.attrs["ports"])
        .reset_index()
        .rename(columns={"mean": "mean per day", "median": "median", "min": "min", "max": "max"})
    )
    top = means.iloc[0]
    body = (
        para("Part 2's metric: for each day, sensor and port the number of distinct sources; then, "
             "for each day and port, the mean over the sensors that saw that port that day. It reads as "
             "'how many hosts probe this port on one of my machines per day'.")
        + table(means, caption="average distinct sources per sensor per day, top 10 TCP ports")
        + figure(charts.port_box_chart(df), title="Distribution of the daily metric per port",
                 width=10, height=5)
        + figure(charts.port_trend_chart(df), title="The daily metric over time, per port, with loess trend",
                 width=10, height=9)
    )
    finding = (
        f"On an average day a sensor is probed on TCP {int(top['port'])} by {top['mean per day']:.1f} "
        f"distinct sources (Part 2's metric)."
    )
    return Section("port-metric", "Distinct sources per port per sensor per day", body, [finding])

