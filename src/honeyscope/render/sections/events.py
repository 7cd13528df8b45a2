"""Report section: events (floods, sweeps, campaigns, backscatter, capped sensors) with who.

The events are computed once per report process (:func:`get_events`, kept in ``ctx.meta``), so
the trends section can link each flagged day to the events behind it (anchors ``event-E1``...).
"""

from __future__ import annotations

import pandas as pd

from honeyscope.render.html import Section, bullets, clip, compact, para, table
from honeyscope.render.sections import ReportContext

#: events shown in the table (the flag tables link only to these); the largest ones also
#: become key findings
SHOWN = 200
FINDINGS = 5
ANCHOR = "event-"


def get_caps(ctx: ReportContext) -> pd.DataFrame:
    """The report's rate-capped sensors (:func:`honeyscope.analyse.health.capping`, its default
    options), computed on first use, then reused: the events and the health section show them."""
    if "caps" not in ctx.meta:
        from honeyscope.analyse import health

        ctx.meta["caps"] = health.capping(ctx.packets)
    return ctx.meta["caps"]


def get_events(ctx: ReportContext) -> pd.DataFrame:
    """The report's events (computed on first use, then reused)."""
    if "events" not in ctx.meta:
        from honeyscope.analyse import events

        opts = ctx.options.get("events")
        ctx.meta["events"] = events.events(
            ctx.packets, opts if isinstance(opts, events.EventOptions) else None, caps=get_caps(ctx))
    return ctx.meta["events"]


def build(ctx: ReportContext) -> list[Section]:
    from honeyscope.analyse import events

    ctx.step("events section")
    ev = get_events(ctx)
    intro = para(
        "Incidents, largest first: a flood is one source sending at least 500 packets to one port "
        "of one sensor in a UTC day, a quarter or more of that sensor's packets that day; a sweep "
        "is one source (or several of one /24) reaching 20 or more ports or 5 or more sensors "
        "within 24 hours (100 packets or more); a campaign is 30 or more sources on one port in "
        "a day, 4 times the port's mean of the 28 days before; backscatter is 100 or more replies "
        "from one source in a day to traffic the sensors never sent; a rate-capped sensor's busy "
        "counts pile up at a ceiling. Share: the event's packets over all packets of the sensors "
        "and days it touched. Country: the input's own when it carries one, else the offline "
        "database's.")
    if ev.empty:
        return [Section("events", "Events: who did what", intro + para(
            "No events above the thresholds in this selection."))]
    counts = ev.groupby("kind").agg(events=("event", "size"), packets=("packets", "sum"))
    counts = counts.reset_index().sort_values("packets", ascending=False)
    show = ev.head(SHOWN).copy()
    show["asn"] = show["asn"].map(lambda v: "unknown" if pd.isna(v) else f"AS{int(v)}")
    show["as_name"] = show["as_name"].where(show["as_name"].notna() & (show["as_name"] != ""),
                                            "unknown")
    show["share"] = show["share"].map(lambda v: "NA" if pd.isna(v) else f"{v:.1%}")
    show["when"] = [_when(a, b) for a, b in zip(show["start"], show["end"], strict=True)]
    show = show.rename(columns={"as_name": "network", "asn": "AS"})
    cols = ["event", "kind", "src", "cc", "AS", "network", "ports", "sensors", "when", "packets",
            "share"]
    top = ev.head(FINDINGS)
    sentences = [f"{e.event}: {events.describe(e)}" for _, e in top.iterrows()]
    body = (
        intro
        + table(counts, caption="Events per kind", id="events-kinds")
        + bullets(sentences)
        + table(show[cols], caption=f"The {min(SHOWN, len(ev))} largest events", max_rows=SHOWN,
                id="events-table", row_ids=[ANCHOR + e for e in show["event"]],
                html_cells={"sensors": lambda v: compact(v, 1, ","),
                            "network": lambda v: clip(v, 12), "ports": lambda v: clip(v, 16)})
    )
    findings = [events.describe(e) for _, e in top.iterrows()]
    refs = {f: (ANCHOR + e.event, f"Events: {e.event}") for f, (_, e) in
            zip(findings, top.iterrows(), strict=True)}
    return [Section("events", "Events: who did what", body, findings, refs)]


def _when(start: pd.Timestamp, end: pd.Timestamp) -> str:
    """``2013-07-24 07:46-07:56`` (one day) or ``2013-08-26 22:26-08-27 00:26``."""
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M}-{end:%H:%M}"
    return f"{start:%Y-%m-%d %H:%M}-{end:%m-%d %H:%M}"
