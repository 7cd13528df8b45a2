"""The data: sensors, time span, and the ingest ledger (lines read, rows, rejected by reason)."""

from __future__ import annotations

import pandas as pd

from honeyscope.render.html import Section, key_values, para, table
from honeyscope.render.sections import ReportContext


def build(ctx: ReportContext) -> list[Section]:
    from honeyscope.analyse import explore

    t = ctx.packets
    per_host = explore.sensors_expr(t).execute()
    o = explore.overview_expr(t).execute().iloc[0]
    total = int(o.packets)
    first, last = (o["first"], o["last"]) if total else (None, None)
    n_sources = int(o.sources) if total else 0
    span = f"{first:%Y-%m-%d} to {last:%Y-%m-%d}" if total else "no packets"
    ctx.meta["span"] = f"{len(per_host)} sensors · {total:,} packets · {span}"
    body = [
        key_values(
            [
                ("packets", total),
                ("sensors", len(per_host)),
                ("distinct sources", n_sources),
                ("first packet (UTC)", first),
                ("last packet (UTC)", last),
            ]
        ),
        "<h3>Sensors</h3>",
        table(per_host, caption="packets, distinct sources and active days per sensor"),
    ]
    for cols, caption in ((["prefix", "action"], "log prefixes and the actions they map to"),
                          (["in_iface", "out_iface"], "interfaces the packets were logged on")):
        parts = explore.top_pairs_expr(t, cols, 10).execute()
        if len(parts):
            body.append(table(parts, caption=caption + " (top 10)"))
    timeless = ctx.options.get("timeless") or 0
    if timeless:
        body.append(para(
            f"{timeless:,} packets carry only a kernel uptime, no wall-clock time (dmesg lines): "
            "they are in the store but left out of this report, whose sections are about time."
        ))
    led = ctx.ledger
    if led:
        body.append("<h3>Ingest ledger</h3>")
        body.append(
            key_values(
                [
                    ("inputs", len(led.get("inputs") or [])),
                    ("lines read", led.get("lines", 0)),
                    ("rows", led.get("rows", 0)),
                    ("lines rejected", led.get("rejected_total", 0)),
                ]
            )
        )
        rej = led.get("rejected") or {}
        if rej:
            df = pd.DataFrame(sorted(rej.items(), key=lambda kv: -kv[1]), columns=["reason", "lines"])
            body.append(table(df, caption="lines that were not packets, by reason"))
        else:
            body.append(para("Every line read was a packet: nothing was rejected."))
    findings = []
    if total:
        top = per_host.iloc[0]
        findings.append(
            f"{len(per_host)} sensors logged {total:,} packets from {n_sources:,} distinct sources "
            f"between {span}; the busiest sensor, {top['host']}, saw {int(top['packets']):,} "
            f"({100 * top['packets'] / total:.1f}%)."
        )
    return [Section("data", "The data", "".join(body), findings)]

