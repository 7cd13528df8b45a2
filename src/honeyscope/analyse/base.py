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
import ibis.expr.operations as ops
import ibis.expr.types as ir

#: Ibis interval units of the bins :func:`zero_fill` knows
_INTERVALS = {"D": "day", "h": "hour", "m": "minute"}


def timed(t: ir.Table) -> ir.Table:
    """The rows of ``t`` with a wall-clock ``time`` (dmesg rows have only an uptime); ``t``
    itself when its ``time`` is typed never null (:func:`all_timed`): no filter to evaluate."""
    if not t.time.type().nullable:
        return t
    return t.filter(t.time.notnull())


def all_timed(t: ir.Table) -> ir.Table:
    """``t``, whose every row has a ``time`` (the caller knows: it filtered them, or counted no
    row without one), with ``time`` typed never null, so that :func:`timed` of it and of the
    tables made from it adds no filter. Each ``time IS NOT NULL`` filter makes every scan of the
    Parquet files decode the time column beside the ones it reads (measured on 10^7 packets:
    11 one-column group-bys took 2.35 s of CPU with the filter, 1.58 s without).

    A table of the engine's (e.g. the Parquet files' view) stays that table, only declared so:
    the queries read it by name. Over anything else ``time`` is cast to its own type, never null
    (a projection: DuckDB then shares it between the parts of a query as a common table
    expression, which costs more than reading the table by name: :func:`explore.summary` of
    10^7 packets took 24.6 s of CPU over the filtered table and 15.4 s over the table itself).
    """
    typ = t.time.type().copy(nullable=False)
    op = t.op()
    if isinstance(op, ops.DatabaseTable):
        schema = ibis.schema({k: typ if k == "time" else v for k, v in op.schema.items()})
        return op.copy(schema=schema).to_expr()
    return t.mutate(time=t.time.cast(typ))


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
