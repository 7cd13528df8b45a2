"""Report sections: sensor health, trends and anomalies, survival time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from honeyscope.render.escape import chart_label
from honeyscope.render.escape import html as esc
from honeyscope.render.html import Section, bullets, figure, key_values, para, table
from honeyscope.render.sections import ReportContext

#: The question of Part 2 ("why does port 23 increase since May, is that significant?").
DEFAULT_RISE = ("TCP", 23, "2013-05-01")


def build(ctx: ReportContext) -> list[Section]:
    out = []
    for name, fn in (("health", _health), ("trends", _trends), ("survival", _survival)):
        ctx.step(f"{name} section")
        out.append(fn(ctx))
    return out


# ----------------------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:.1f}%"  # n/a: a sensor without a wall-clock time


def _health(ctx: ReportContext) -> Section:
    from honeyscope.analyse import health
    from honeyscope.analyse.engine import cache_table

    # the packets per sensor and clock hour once for the completeness, the hours of day a
    # sensor is usually quiet (gaps) and the daily chart, which each read every packet before:
    # measured on the marx data set, 0.12-0.15 s of CPU for the three instead of 0.31-0.40 s
    hours = cache_table(health.hourly_expr(ctx.packets))
    try:
        return _health_of(ctx, hours)
    finally:
        hours.release()


def _health_of(ctx: ReportContext, hours: Any) -> Section:
    from honeyscope.analyse import health

    t = ctx.packets
    comp = health.completeness(t, hours)
    if comp.empty:
        return Section("health", "Sensor health", para("No packets."))
    from honeyscope.analyse.engine import cache_table

    # the silences between consecutive packets (a window over every packet) once for both:
    # measured on the marx data set, 0.26 s of CPU instead of 0.45 s
    silences = cache_table(health.gaps_expr(t))
    try:
        stats = health.gap_stats(t, silences)
        gaps = health.gaps(t, include_quiet=True, comp=comp, silences=silences, hours=hours)
    finally:
        silences.release()
    from honeyscope.render.sections.events import get_caps

    caps = get_caps(ctx)  # the events section's, when it ran first
    real = gaps[gaps["kind"] == "gap"]
    quiet = gaps[gaps["kind"] == "quiet"]

    show = comp.assign(completeness=comp["completeness"].map(_pct))
    show = show.rename(columns={
        "hours_with_data": "hours with data", "hours_in_span": "hours in span",
        "days_with_data": "days with data", "days_in_span": "days in span",
        "started_after_fleet_h": "started after fleet (h)",
        "stopped_before_fleet_h": "stopped before fleet (h)",
    })
    body = [
        para("Completeness: hours in which a sensor logged at least one packet, out of the hours "
             "between its first and last packet. An hour without packets is not necessarily an "
             "outage: a quiet sensor has many. A silence of an hour or more is a gap when its whole "
             "clock hours are so rarely all empty on the sensor's other days (product of each "
             "hour of day's share of empty days) that fewer than 0.01 such silences are expected "
             "in its span; otherwise it is normal quiet."),
        table(show, caption="completeness per sensor"),
        "<h3>Gaps</h3>",
    ]
    if real.empty:
        body.append(para("No gaps: every silence is within its sensor's normal quiet periods."))
    else:
        body.append(table(real[["host", "start", "end", "hours", "whole_hours", "expected"]],
                          caption="silences beyond the sensor's normal quiet periods"))
        body.append(bullets(real["why"].head(20)))
    if len(quiet):
        body.append(table(
            quiet[["host", "start", "end", "hours", "whole_hours", "expected"]],
            caption="longest normal silence per sensor (expected = silences this long expected in "
                    "its span)"))
    gs = stats.assign(**{c: stats[c] / 60 for c in ("median", "p90", "p99", "p999", "max")})
    body.append(table(gs.rename(columns={"n_gaps": "silences", "median": "median (min)",
                                         "p90": "p90 (min)", "p99": "p99 (min)",
                                         "p999": "p99.9 (min)", "max": "max (min)"}),
                      caption="distribution of silences between packets per sensor"))
    body.append("<h3>Rate-limited logging</h3>")
    if caps.empty:
        body.append(para("No sign of rate-limited logging: no sensor's per-minute or per-hour "
                         "counts pile up at a fixed ceiling, so the counts are not capped."))
    else:
        body.append(table(caps.drop(columns="why"), caption="sensors whose counts look capped"))
        body.append(bullets(caps["why"]))
    led = ctx.ledger or {}
    if isinstance(led.get("inputs"), list) and led["inputs"]:
        inp = pd.DataFrame(led["inputs"])
        if {"source", "lines", "rows"} <= set(inp.columns):
            inp["rejects"] = inp["lines"] - inp["rows"]
            inp["reject share"] = (inp["rejects"] / inp["lines"].where(inp["lines"] > 0)).map(
                lambda v: "NA" if pd.isna(v) else _pct(v))
            body.append(table(inp[["source", "lines", "rows", "rejects", "reject share"]],
                              caption="lines seen, rows and rejects per input"))
    rej = ctx.meta.get("rejects_by_host_day")
    h = None
    if isinstance(rej, pd.DataFrame) and len(rej):
        h = health.health(t, rejects=rej, caps=caps, hours=hours)
        worst = h.sort_values("reject_share", ascending=False).head(10)
        body.append(table(worst[["host", "day", "lines", "rows", "rejects", "reject_share"]],
                          caption="sensor-days with the largest share of rejected lines"))
    body.append(_completeness_chart(t, h, hours))

    findings = []
    worst = comp.sort_values("completeness").iloc[0]
    findings.append(
        f"Sensor completeness ranges from {_pct(worst['completeness'])} ({worst['host']}) to "
        f"{_pct(comp['completeness'].max())} of hours with data; "
        + (f"{len(real)} gap(s) beyond normal quiet, longest {real['hours'].max():.1f} h on "
           f"{real.loc[real['hours'].idxmax(), 'host']}." if len(real) else
           f"no gaps beyond normal quiet (longest silence {stats['max'].max() / 3600:.1f} h).")
    )
    findings.append(
        "No sign of rate-limited logging." if caps.empty else
        f"{caps['host'].nunique()} sensor(s) look rate-limited ({', '.join(caps['host'].unique())}):"
        " their busy-period counts are lower bounds."
    )
    return Section("health", "Sensor health", "".join(body), findings)


def _completeness_chart(t: Any, h: pd.DataFrame | None = None, hours: Any = None) -> str:
    """The hours with data per sensor and day; ``h``: :func:`health.health`'s days with rejects
    merged in, when already computed (its days with packets are the chart's; the days with
    rejects only, outside a sensor's span, have no active hours and no point); ``hours``: the
    packets' :func:`health.hourly_expr`, to reuse."""
    from honeyscope.analyse import health
    from honeyscope.render import charts

    h = health.health(t, freq="day", hours=hours) if h is None else h[h["active_hours"].notna()].copy()
    if h.empty:
        return ""
    h["day"] = pd.to_datetime(h["day"]).dt.tz_localize(None)
    h["host"] = h["host"].map(chart_label)
    h = h.sort_values(["host", "day"])  # a line per sensor, sensors in sorted order (the colours)
    lines = [(str(host), charts._days(g["day"]), g["active_hours"].to_numpy(dtype=float))
             for host, g in h.groupby("host", sort=True)]
    plot = charts.Series(lines, charts.hue_palette(len(lines)), title="Hours with data per sensor and day",
                         xlab="day (UTC)", ylab="hours with at least one packet", legend="sensor",
                         size=0.4, ylim=(0, 24), ybreaks=[0, 6, 12, 18, 24])
    return figure(plot, title="Hours with data per sensor and day", height=3.5)


# ----------------------------------------------------------------------------------------------


def _rise_params(ctx: ReportContext, t: Any) -> tuple[str, int, str]:
    proto, port, split = DEFAULT_RISE
    opt = ctx.options.get("rise")  # ("TCP", 23, "2013-05-01") or "tcp/23@2013-05-01"
    if isinstance(opt, str) and "/" in opt:
        pp, _, split_o = opt.partition("@")
        proto, port = pp.split("/")[0].upper(), int(pp.split("/")[1])
        split = split_o or split
    elif isinstance(opt, tuple | list) and len(opt) == 3:
        proto, port, split = str(opt[0]).upper(), int(opt[1]), str(opt[2])
    from honeyscope.analyse.base import sensor_spans_expr

    span = sensor_spans_expr(t, by=()).execute()
    # (UTC either way: DuckDB gives zoned times, Spark the session's UTC wall clock)
    first, last = (pd.to_datetime(span[c], utc=True).iloc[0] for c in ("first", "last"))
    s = pd.Timestamp(split, tz="UTC")
    if pd.isna(first) or not (first < s < last):
        split = str((first + (last - first) / 2).date()) if not pd.isna(first) else split
    return proto, port, split


def _trends(ctx: ReportContext) -> Section:
    from honeyscope.analyse import trends

    t = ctx.packets
    proto, port, split = _rise_params(ctx, t)
    metric = trends.port_metric_expr(t, proto, port).order_by("day").execute()
    spans = trends.sensor_spans(t)  # once for the rise test and the anomalies (three queries)
    rise = trends.rise_test(t, proto, port, split, metric=metric, spans=spans)
    flags = trends.anomalies(t, metric="sources", top_ports=30, spans=spans)
    family = int(flags.attrs.get("family", 0))
    body = [
        para("Daily distinct sources per sensor, and per sensor and port for the 30 busiest "
             "sensor-port series, are compared with a robust baseline (29-day rolling median of "
             "log(1+x), plus each weekday's median deviation only where a Kruskal-Wallis test "
             "says the weekdays differ). A spike needs a robust z of 4 or more, at least 10 "
             "sources, twice the expected value and a negative binomial tail probability (its "
             "dispersion fitted on the series' own days, robustly) below 0.01 after Bonferroni; "
             "changepoints come from Pettitt's rank test with its variance inflated for "
             "day-to-day autocorrelation and a change of 1.5x or more; emerging ports are ports "
             "whose share of sensor-days seen jumps against the 28 days before (beta-binomial), "
             "dated on the first day of the surge. One Bonferroni family holds every test this "
             f"section makes: {family:,} tests (all series, days, directions, changepoint and "
             "emerging-port tests), so the chance of any false flag is at most 1%."),
        f"<h3>Is the rise of {esc(proto)}/{esc(port)} since {esc(split)} significant?</h3>",
        para(rise.get("why", "")),
    ]
    if "mw_p" in rise:
        kv = [("days before / after", f"{rise['days_before']} / {rise['days_after']}"),
              ("median before", rise["median_before"]), ("median after", rise["median_after"]),
              ("Hodges-Lehmann shift", rise["hodges_lehmann"]),
              ("Mann-Whitney U (one-sided, after > before)", rise["mw_u"]),
              ("Mann-Whitney p (one-sided; one pre-specified test, not in the flags' family)",
               f"{rise['mw_p']:.3g}"),
              ("P(day after > day before)", rise["cles"])]
        if "rate_ratio" in rise:
            kv += [("quasi-Poisson rate ratio (95% CI)",
                    f"{rise['rate_ratio']:.3f} ({rise['rr_low']:.3f}-{rise['rr_high']:.3f})"),
                   ("quasi-Poisson GLM p (Wald, two-sided)", f"{rise['glm_p']:.3g}"),
                   ("dispersion", rise["dispersion"]), ("sensor-days", rise["sensor_days"])]
        body.append(key_values(kv))
        body.append(_rise_chart(metric, proto, port, split))
    body.append("<h3>Flags</h3>")
    if flags.empty:
        body.append(para("Nothing flagged."))
    else:
        counts = flags.groupby(["scope", "kind"]).size().reset_index(name="flags")
        body.append(table(counts, caption="flags by scope and kind"))
        p_col = f"p (Bonferroni over {family:,} tests)"
        show = flags.assign(significance=flags["significance"].map(_p_text))
        show = show.drop(columns=["test"]).rename(columns={"significance": p_col})
        show.insert(show.columns.get_loc(p_col) + 1, "test",
                    flags["test"].str.replace(r",\s*Bonferroni over [\d,]+ tests$", "", regex=True))
        show, cells = _event_links(ctx, show)  # events section: link each flagged day
        body.append(table(show, caption="flags, most significant first (why = the reason in "
                                        "words)", max_rows=40, html_cells=cells))
    findings = []
    if "mw_p" in rise:
        sig = rise["mw_p"] < 0.05
        findings.append(
            f"{proto}/{port} since {split}: median {rise['median_before']:.2f} → "
            f"{rise['median_after']:.2f} mean daily sources per sensor, Mann-Whitney p "
            f"{rise['mw_p']:.2g}" + (f", rate ratio {rise['rate_ratio']:.2f} (GLM p "
                                     f"{rise['glm_p']:.2g})" if "rate_ratio" in rise else "")
            + (": a significant rise." if sig and rise["hodges_lehmann"] > 0 else
               ": no significant rise.")
        )
    if len(flags):
        top = flags.iloc[0]
        findings.append(f"{len(flags)} trend/anomaly flags at a 1% chance of any false flag "
                        f"over {family:,} tests; the strongest: {top['why']}.")
    return Section("trends", "Trends and anomalies", "".join(body), findings)


def _p_text(p: float) -> str:
    return "< 1e-300" if p < 1e-300 else f"{p:.2g}"


def _event_links(ctx: ReportContext, flags: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """``flags`` with an ``events`` column: the events (render/sections/events.py) on the flag's
    ``host`` (any sensor for a fleet-wide flag) and ``day``, as links to their rows."""
    from honeyscope.analyse.events import for_day
    from honeyscope.render.html import link_list
    from honeyscope.render.sections.events import ANCHOR, SHOWN, get_events

    if flags.empty or not {"host", "day"} <= set(flags.columns):
        return flags, {}
    ev = get_events(ctx).head(SHOWN)  # the rows the events table shows
    hosts = flags["host"].fillna("").astype(str)
    out = flags.assign(events=[for_day(ev, h, d) for h, d in zip(hosts, flags["day"], strict=True)])
    return out, {"events": lambda v: link_list(v, ANCHOR) if v else ""}


def _rise_chart(metric: pd.DataFrame, proto: str, port: int, split: str) -> str:
    from honeyscope.render import charts

    m = metric.copy()
    if m.empty:
        return ""
    m["day"] = pd.to_datetime(m["day"])
    m["period"] = (m["day"] >= pd.Timestamp(split)).map({True: "after", False: "before"})
    title = f"{proto}/{port}: mean distinct sources per reporting sensor per day"
    colours = {"before": "#1f78b4", "after": "#e7298a"}
    periods = sorted(set(m["period"]))  # the legend's order: after, before
    x = charts._days(m["day"])
    plot = charts.Series(
        [(p, x[(m["period"] == p).to_numpy()], m.loc[m["period"] == p, "value"].to_numpy(dtype=float))
         for p in periods], [colours[p] for p in periods], title=title, xlab="day (UTC)",
        ylab="mean distinct sources per sensor", points=True, size=1.2, alpha=0.6,
        vline=float(charts._days([pd.Timestamp(split)])[0]))
    return figure(plot, title=title, height=3.5)


# ----------------------------------------------------------------------------------------------


def _survival(ctx: ReportContext) -> Section:
    from honeyscope.analyse import survival

    t = ctx.packets
    fp = survival.first_probe(t, top=15)
    summ = survival.survival_summary(fp)
    ns = survival.new_source_intervals(t)
    body = [
        para("Time to first probe: from a sensor's first packet (its start) to its first packet "
             "on the port; sensors never probed on the port are censored at their last packet and "
             "the median is the Kaplan-Meier median over sensors. Ports: the 15 reached by most "
             "sensors. Note that a sensor's first packet is only its start if the data begin "
             "when the sensor went online."),
        table(summ.rename(columns={"dpt": "port", "min_hours": "fastest (h)",
                                   "median_hours": "median (h)", "max_hours": "slowest (h)"}),
              caption="time to first probe per port, over sensors"),
        "<h3>New sources</h3>",
        para("Time between consecutive never-seen-before sources of each sensor, and the rate "
             "of new sources in its first and last week."),
        table(ns.assign(**{c: ns[c] / 60 for c in ("median_s", "p90_s", "p99_s", "max_s",
                                                     "mean_s")}).rename(columns={
            "median_s": "median (min)", "p90_s": "p90 (min)", "p99_s": "p99 (min)",
            "max_s": "max (min)", "mean_s": "mean (min)",
            "first_week_per_day": "new/day first week", "last_week_per_day": "new/day last week"}),
            caption="time between new sources per sensor (new = never seen before by that "
                    "sensor)", id="survival-new-sources"),
    ]
    findings = []
    # (a port whose median is not reached, or data spanning one instant, give no contrast)
    ranked = summ[np.isfinite(summ["median_hours"].astype(float))].sort_values("median_hours") \
        if len(summ) else summ
    if len(ranked) > 1 and ranked["median_hours"].iloc[-1] > ranked["median_hours"].iloc[0]:
        fast, slow = ranked.iloc[0], ranked.iloc[-1]
        findings.append(
            f"Half the sensors saw {fast['proto']}/{fast['dpt']} within "
            f"{fast['median_hours']:.1f} h of their start, but {slow['proto']}/{slow['dpt']} only "
            f"after {slow['median_hours']:.1f} h (median over sensors)."
        )
    refs = {}
    fleet_new = survival.fleet_new_per_day(t) if len(ns) else float("nan")
    if np.isfinite(fleet_new) and np.isfinite(ns["median_s"].astype(float)).any():
        f = (
            f"New sources keep arriving: the median time between never-seen-before sources ranges "
            f"from {ns['median_s'].min() / 60:.1f} min to {ns['median_s'].max() / 60:.1f} min per "
            f"sensor; in the last week {fleet_new:,.0f} sources a day were new to the whole fleet "
            f"({ns['last_week_per_day'].sum():,.0f} a day new to one sensor, summed over sensors: "
            "a source new to three sensors counts three times there)."
        )
        findings.append(f)
        refs[f] = ("survival-new-sources", "Survival time: time between new sources per sensor")
    return Section("survival", "Survival time", "".join(body), findings, refs)
