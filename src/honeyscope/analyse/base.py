"""Building blocks every analysis shares, each written once (Ibis, so DuckDB and Spark alike).

* :func:`timed`: the rows with a wall-clock time. dmesg lines carry only a kernel uptime (their
  ``time`` is null): they belong to no day, hour or gap, so every time-based aggregate starts here.
* :func:`sensor_spans_expr`: per sensor, its first and last packet (rows with a time).
* :func:`zero_fill`: counts per group and bin made dense: the bins of each group's span without
  rows appear with 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

#: Ibis interval units of the bins :func:`zero_fill` knows
_INTERVALS = {"D": "day", "h": "hour", "m": "minute"}


def timed(t: ir.Table) -> ir.Table:
    """The rows of ``t`` with a wall-clock ``time`` (dmesg rows have only an uptime)."""
    return t.filter(t.time.notnull())


def sensor_spans_expr(t: ir.Table, by: Sequence[str] = ("host",)) -> ir.Table:
    """Per ``by`` group (default: per sensor): ``first`` and ``last`` packet time (rows with a
    time; a sensor with none has no row). ``by=()``: one row for the whole table."""
    t = timed(t)
    bounds = {"first": t.time.min(), "last": t.time.max()}
    return t.group_by(list(by)).aggregate(**bounds) if by else t.aggregate(**bounds)


def zero_fill(
    counts: ir.Table, by: Sequence[str], at: str, unit: str,
    value: str | Sequence[str] = "value", spans: ir.Table | None = None,
) -> ir.Table:
    """``counts`` (one row per ``by`` group and bin ``at``, counts in the ``value`` column(s))
    with the bins without rows added as 0, from each group's first to its last bin (``unit``:
    ``D`` for dates, ``h``/``m`` for truncated timestamps). ``spans``: per group ``first`` and
    ``last`` bin, when the span is wider than the group's own bins. Returns ``*by, at, *value``
    (unordered)."""
    keys = list(by)
    values = [value] if isinstance(value, str) else list(value)
    if spans is None:
        bounds = {"first": counts[at].min(), "last": counts[at].max()}
        spans = counts.group_by(keys).aggregate(**bounds) if keys else counts.aggregate(**bounds)
    spans = spans.mutate(_n=spans["last"].delta(spans["first"], unit=_INTERVALS[unit]))
    cal = spans.mutate(_k=ibis.range(0, spans._n + 1).unnest())
    cal = cal.mutate(**{at: cal["first"] + cal._k.as_interval(unit)}).select(*keys, at)
    j = cal.left_join(counts.select(*keys, at, *values), [*keys, at])
    return j.select(*keys, at, **{v: j[v].fill_null(0) for v in values})
