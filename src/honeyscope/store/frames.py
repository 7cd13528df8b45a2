"""The packet table and analysis results as pandas without losing their types, and the one
"no packets" check of a source.

* :func:`to_pandas` is Arrow → pandas with integer columns as pandas' nullable integers
  (``UInt16`` for a port), so a port is ``22``, never the float ``22.0`` that a null in the
  column makes of a NumPy integer column.
* :func:`restore_ints` does the same after the fact for a frame an engine returned (DuckDB
  through Ibis gives ``float64`` for an integer column with nulls): a column named like an integer
  column of the canonical schema (:mod:`honeyscope.schema`), or a port/code column of a result
  (``port``, ``sport``, ``dport``), whose values are all whole numbers, becomes ``Int64``.
* :func:`format_times` is the one timestamp format of every output (CSV, JSON, JSONL, text):
  RFC 3339 in UTC with ``Z``, whole seconds (``2013-03-03T21:53:59Z``) when every value of the
  column is a whole second, else microseconds for every value of it (``...59.250000Z``); a day
  column (``day``, ``date``, or dates) is an RFC 3339 full-date (``2013-03-03``).
* :func:`require_packets` raises :class:`NoPacketsError` for a store that holds no packet at all,
  with the lines read and rejected (by reason): the one sentence of every analysis of such a
  source (exit 1 on the command line).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from honeyscope import schema

_PANDAS_INTS = {
    pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype(),
}

#: Result columns holding ports or ICMP codes besides the canonical ones.
RESULT_INT_COLUMNS = ("port", "sport", "dport")
#: Integer columns of the canonical schema (ports, ICMP types/codes, lengths, ...).
SCHEMA_INT_COLUMNS = tuple(n for n, t, _ in schema.COLUMNS if pa.types.is_integer(t))


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """``table`` as pandas, integer columns as nullable integers (``UInt16`` ports: ``22``, ``<NA>``)."""
    return table.to_pandas(types_mapper=_PANDAS_INTS.get)


def restore_ints(df: pd.DataFrame, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """``df`` with float columns that hold integers (ports, ICMP codes...) as ``Int64``.

    ``columns`` defaults to the canonical schema's integer columns and :data:`RESULT_INT_COLUMNS`;
    a column is converted only when every non-null value is a whole number."""
    names = columns if columns is not None else SCHEMA_INT_COLUMNS + RESULT_INT_COLUMNS
    out = df
    for c in df.columns:
        if c not in names or not pd.api.types.is_float_dtype(df[c]):
            continue
        v = df[c].to_numpy(dtype="float64", na_value=np.nan)
        ok = ~np.isnan(v)
        if np.all(v[ok] == np.round(v[ok])):
            if out is df:
                out = df.copy()
            out[c] = df[c].astype("Int64")
    if out is not df:
        out.attrs = dict(df.attrs)
    return out


#: Columns that hold days, written as RFC 3339 full-dates.
DAY_COLUMNS = ("day", "date", "first_day", "last_day")


def time_text(ts: Any, fraction: bool = False) -> str:
    """One time (a ``pd.Timestamp``, ``datetime``, or epoch seconds) as RFC 3339 UTC text:
    ``2013-03-03T21:53:59Z``, with ``fraction`` ``...59.250000Z``. Epoch seconds are rounded
    to the microsecond first (a float's phantom nanoseconds never show)."""
    if isinstance(ts, int | float | np.integer | np.floating):
        t = pd.Timestamp(round(float(ts) * 1_000_000), unit="us", tz="UTC")
    else:
        t = pd.Timestamp(ts)
        t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if fraction else "%Y-%m-%dT%H:%M:%SZ")


def format_times(s: pd.Series, name: object = None) -> pd.Series:
    """A datetime (or date) column as RFC 3339 text, one precision for the whole column (see the
    module's rule); nulls stay null (``None``)."""
    name = s.name if name is None else name
    if not pd.api.types.is_datetime64_any_dtype(s):  # python dates / datetimes in an object column
        return s.map(lambda v: v if v is None or v is pd.NaT or not hasattr(v, "isoformat") else (
            v.isoformat() if not hasattr(v, "hour") else time_text(v))).astype(object)
    t = s.dt.tz_localize("UTC") if s.dt.tz is None else s.dt.tz_convert("UTC")
    ok = t.notna()
    if name in DAY_COLUMNS:
        text = t.dt.strftime("%Y-%m-%d")
    else:
        t = t.dt.floor("us")
        frac = bool((t[ok].dt.microsecond != 0).any())
        text = t.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if frac else "%Y-%m-%dT%H:%M:%SZ")
    out = text.astype(object)
    out[~ok] = None
    return out


def output_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` ready for CSV, JSON or a plain table: every datetime column as RFC 3339 UTC text
    (:func:`honeyscope.store.frames.format_times`: ``2013-03-03T21:53:59Z``, microseconds only
    when the column has them, days as ``2013-03-03``) and ports / ICMP codes that an engine
    returned as floats as integers (``22``, not ``22.0``)."""
    out = restore_ints(df)
    times = [c for c in out.columns if pd.api.types.is_datetime64_any_dtype(out[c])]
    if times:
        out = out.copy() if out is df else out
        for c in times:
            out[c] = format_times(out[c], c)
    return out


class NoPacketsError(RuntimeError):
    """A source (a store, or files ingested on the fly) without a single packet."""


def no_packets_message(ledger: dict[str, Any]) -> str:
    """``no packets: N lines read, N rejected (reason n, ...)`` from a store's ledger."""
    lines = int(ledger.get("lines", 0))
    rejected = dict(sorted(ledger.get("rejected", {}).items(), key=lambda kv: (-kv[1], kv[0])))
    n = sum(rejected.values())
    why = f" ({', '.join(f'{k}: {v:,}' for k, v in rejected.items())})" if rejected else ""
    return f"no packets: {lines:,} lines read, {n:,} rejected{why}"


def require_packets(store: Any) -> None:
    """Raise :class:`NoPacketsError` when ``store`` (a :class:`~honeyscope.store.store.Store`)
    holds no packet; a store's ledger is read from its manifest (no scan)."""
    ledger = store.ledger()
    if int(ledger.get("rows", 0)) == 0:
        raise NoPacketsError(no_packets_message(ledger))
