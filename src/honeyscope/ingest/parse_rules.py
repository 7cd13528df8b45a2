"""Rules of the LOG line format that both parse paths apply: where a netfilter body starts, the
action a log prefix names, and how a wall-clock stamp becomes UTC (the general path,
:mod:`parse`, and the compiled one, :mod:`parse_fast`, import them from here)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:  # (imported where used: only new prefixes, other zones and the general path need it)
    import polars as pl

#: Lines longer than this (bytes) are rejected unread: the kernel's LOG lines are < 1 KiB (the
#: compiled pass's MAX_LINE_BYTES is the same number).
MAX_LINE_BYTES = 16 * 1024

#: The first and last year a time may have (a stamp outside is ``bad timestamp``).
YEARS = (1970, 2099)
#: The same bounds in microseconds since the epoch: [first, end).
YEARS_US = tuple(int(datetime(y, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000
                 for y in (YEARS[0], YEARS[1] + 1))

#: Slack allowed after the reference time when guessing the year of a year-less stamp.
YEAR_SLACK = timedelta(days=1)

# The kernel's own "IN=%s OUT=%s " pair (PHYSIN= came between them in old kernels): the body
# starts there, so an "IN=" inside a prefix or host ("ADMIN=x", "[LOGIN=fail]") is not taken.
ANCHOR_RE = r"IN=[^\s=]* +(?:PHYSIN=[^\s=]* +)?OUT="
# lines without OUT= (not the kernel's, but seen in other tools' tests): IN= at a word boundary
ANCHOR_LOOSE_RE = r"\bIN="

# (read by Python's re: "\Z" is the end of the text, where "$" would also match before a final "\n")
ACTION_RES = (
    ("drop", r"(?:^|[^a-z])(?:drop|dropped|deny|denied|block|blocked)(?:[^a-z]|\Z)"),
    ("reject", r"(?:^|[^a-z])(?:reject|rejected)(?:[^a-z]|\Z)"),
    ("accept", r"(?:^|[^a-z])(?:accept|accepted|allow|allowed|acc|permit|pass)(?:[^a-z]|\Z)"),
    ("audit", r"(?:^|[^a-z])(?:audit|log|logged|trace)(?:[^a-z]|\Z)"),
)
# EdgeOS / VyOS style "[RULESET-RULE-A]" (A accept, D drop, R reject)
EDGE_RE = r"^\[[^\]]*-([adr])\]\Z"
_EDGE_ACTIONS = {"a": "accept", "d": "drop", "r": "reject"}
_ACTION_PATTERNS = tuple((name, re.compile(rx)) for name, rx in ACTION_RES)
_EDGE_PATTERN = re.compile(EDGE_RE)


def by_distinct(df: pl.DataFrame, key: str, exprs: dict[str, pl.Expr]) -> pl.DataFrame:
    """``df`` with the columns ``exprs`` (expressions of column ``key`` alone) added, each
    evaluated once per distinct value of ``key`` (a MAC, a prefix: a sensor logs a handful, not
    one per line) and put back on every row."""
    import polars as pl
    table = df.select(pl.col(key).unique()).with_columns(**exprs)
    got = df.select(key).join(table, on=key, how="left", nulls_equal=True, maintain_order="left")
    return df.with_columns(got.drop(key))


def action(prefix: str | None) -> str:
    """The action a log prefix names: an EdgeOS / VyOS rule's letter, else the first of
    :data:`ACTION_RES` found in it (case-insensitive), else "unknown"."""
    low = (prefix or "").lower()
    edge = _EDGE_PATTERN.search(low)
    if edge:
        return _EDGE_ACTIONS[edge.group(1)]
    for name, rx in _ACTION_PATTERNS:
        if rx.search(low):
            return name
    return "unknown"


def actions(prefix: pl.Series) -> pl.Series:
    """The action of each log prefix (:func:`action`, once per distinct prefix)."""
    import polars as pl
    prefix = prefix.fill_null("")
    known = {p: action(p) for p in prefix.unique().to_list()}
    return prefix.replace_strict(known, return_dtype=pl.String)


def to_utc(naive_us: pl.Expr, tz: str) -> pl.Expr:
    """Wall-clock microseconds in ``tz`` as UTC times (an ambiguous clock: the earlier; a clock
    that does not exist: null)."""
    import polars as pl
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
