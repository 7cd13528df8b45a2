"""The text and the timeline chart of ``honeyscope ip`` (:class:`honeyscope.analyse.ip.IpCard`).

Every value from the logs (sensor names, AS names) passes through
:func:`honeyscope.render.escape.value_text` before it is laid out; times are RFC 3339 UTC
(:func:`honeyscope.store.frames.time_text`), as in every output.
"""

from __future__ import annotations

import pandas as pd

from honeyscope.analyse.ip import IpCard
from honeyscope.render.console import frame_text
from honeyscope.render.escape import value_text
from honeyscope.store.frames import time_text


def _when(ts: pd.Timestamp | None) -> str:
    return "no wall-clock time (dmesg lines only)" if ts is None else time_text(ts)


def card_text(card: IpCard) -> str:
    """The card as text: a heading, ``label  value`` lines, then the sensors, ports and scans."""
    o = card.origin
    if o.get("cc"):
        where = f"{o['cc']} {o.get('country') or ''}".strip() + (
            " (as the input recorded it)" if o.get("cc_from") == "input" else "")
    else:
        where = "unknown (private, bogon or unallocated address)"
    asn = f"AS{o['asn']} {o.get('as_name') or ''}".strip() if o.get("asn") is not None else "unknown"
    protocols = ", ".join(f"{p} {n:,}" for p, n in zip(card.protocols["proto"], card.protocols["packets"],
                                                        strict=True))
    lines = [
        f"source {card.addr} (IPv{card.family})",
        f"  country     {value_text(where)}",
        f"  ASN         {value_text(asn)}",
        f"  first seen  {_when(card.first_seen)}",
        f"  last seen   {_when(card.last_seen)}",
        f"  packets     {card.packets:,} on {len(card.sensors)} of {card.fleet} sensors",
        f"  protocols   {value_text(protocols)}",
    ]
    patterns = [f"{p} ({value_text(n) if isinstance(n, str) else st})"
                for p, n, st in zip(card.scans["pattern"], card.scans["psad_name"], card.scans["scan_type"],
                                    strict=True) if isinstance(p, str)]
    types = ", ".join(f"{st} {n:,}" for st, n in zip(card.scans["scan_type"], card.scans["packets"],
                                                      strict=True))
    lines.append(f"  scan        {', '.join(patterns) if patterns else 'no scan pattern'}"
                 f"{f' (packet types: {value_text(types)})' if types else ''}")
    lines += ["", "sensors reached, in order (first packet at each):"]
    s = card.sensors.copy()
    lines.append(frame_text(s, row_names=False, left=("host",)))
    if len(card.ports):
        more = f", {card.other_ports:,} more" if card.other_ports else ""
        lines += ["", f"destination ports (top {len(card.ports)}{more}):"]
        lines.append(frame_text(card.ports, row_names=False))
    return "\n".join(lines)


def timeline_chart(card: IpCard):
    """The source's packets over time: one row per sensor (in the order reached), a point per
    packet coloured by protocol. Timeless (dmesg) rows are left out of the chart."""
    from plotnine import aes, geom_point, ggplot, labs, scale_x_datetime, theme, theme_bw

    from honeyscope.render.escape import chart_label

    d = card.timeline[card.timeline["time"].notna()].copy()
    if d.empty:
        raise ValueError(f"no packet from {card.addr} has a wall-clock time: there is no timeline to draw")
    order = [chart_label(h) for h in card.sensors["host"]][::-1]
    d["sensor"] = pd.Categorical([chart_label(h) for h in d["host"]], categories=order, ordered=True)
    d["time"] = d["time"].dt.tz_convert("UTC").dt.tz_localize(None)
    return (
        ggplot(d, aes("time", "sensor", colour="proto"))
        + geom_point(size=2, alpha=0.7)
        + scale_x_datetime(date_labels="%Y-%m-%d\n%H:%M")
        + labs(title=chart_label(f"Packets of {card.addr}, by sensor (in the order reached)"),
               x="time (UTC)", y="sensor", colour="protocol")
        + theme_bw()
        + theme(legend_position="bottom")
    )
