"""Rules of the LOG line format that both parse paths apply: where a netfilter body starts, the
action a log prefix names, and how a wall-clock stamp becomes UTC (the general path,
:mod:`parse`, and the compiled one, :mod:`parse_fast`, import them from here)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl

#: Slack allowed after the reference time when guessing the year of a year-less stamp.
YEAR_SLACK = timedelta(days=1)

# The kernel's own "IN=%s OUT=%s " pair (PHYSIN= came between them in old kernels): the body
# starts there, so an "IN=" inside a prefix or host ("ADMIN=x", "[LOGIN=fail]") is not taken.
ANCHOR_RE = r"IN=[^\s=]* +(?:PHYSIN=[^\s=]* +)?OUT="
# lines without OUT= (not the kernel's, but seen in other tools' tests): IN= at a word boundary
ANCHOR_LOOSE_RE = r"\bIN="

ACTION_RES = (
    ("drop", r"(?:^|[^a-z])(?:drop|dropped|deny|denied|block|blocked)(?:[^a-z]|$)"),
    ("reject", r"(?:^|[^a-z])(?:reject|rejected)(?:[^a-z]|$)"),
    ("accept", r"(?:^|[^a-z])(?:accept|accepted|allow|allowed|acc|permit|pass)(?:[^a-z]|$)"),
    ("audit", r"(?:^|[^a-z])(?:audit|log|logged|trace)(?:[^a-z]|$)"),
)
# EdgeOS / VyOS style "[RULESET-RULE-A]" (A accept, D drop, R reject)
EDGE_RE = r"^\[[^\]]*-([adr])\]$"


def by_distinct(df: pl.DataFrame, key: str, exprs: dict[str, pl.Expr]) -> pl.DataFrame:
    """``df`` with the columns ``exprs`` (expressions of column ``key`` alone) added, each
    evaluated once per distinct value of ``key`` (a MAC, a prefix: a sensor logs a handful, not
    one per line) and put back on every row."""
    table = df.select(pl.col(key).unique()).with_columns(**exprs)
    got = df.select(key).join(table, on=key, how="left", nulls_equal=True, maintain_order="left")
    return df.with_columns(got.drop(key))


def actions(prefix: pl.Series) -> pl.Series:
    """The action of each log prefix (its rules read once per distinct prefix)."""
    low = pl.col("p").str.to_lowercase()
    edge = low.str.extract(EDGE_RE, 1)
    action = pl.lit("unknown")
    for name, rx in reversed(ACTION_RES):
        action = pl.when(low.str.contains(rx)).then(pl.lit(name)).otherwise(action)
    action = (
        pl.when(edge == "a").then(pl.lit("accept"))
        .when(edge == "d").then(pl.lit("drop"))
        .when(edge == "r").then(pl.lit("reject"))
        .otherwise(action)
    )
    return by_distinct(pl.DataFrame({"p": prefix}), "p", {"action": action}).get_column("action")


def to_utc(naive_us: pl.Expr, tz: str) -> pl.Expr:
    """Wall-clock microseconds in ``tz`` as UTC times (an ambiguous clock: the earlier; a clock
    that does not exist: null)."""
    t = naive_us.cast(pl.Datetime("us"))
    if tz.upper() == "UTC":
        return t.dt.replace_time_zone("UTC")
    return t.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null").dt.convert_time_zone(
        "UTC"
    )


def ref_key(reference_time: datetime, tz: str) -> tuple[int, int]:
    """(year, key) of reference time + slack in ``tz``; key orders month/day/time in a year."""
    ref = reference_time
    if ref.tzinfo is None:
        ref = ref.replace(tzinfo=ZoneInfo("UTC"))
    try:
        zone = ZoneInfo(tz)
    except Exception:
        zone = ZoneInfo("UTC")
    r = (ref + YEAR_SLACK).astimezone(zone)
    return r.year, r.month * 100_000_000 + r.day * 1_000_000 + (
        r.hour * 3600 + r.minute * 60 + r.second)
