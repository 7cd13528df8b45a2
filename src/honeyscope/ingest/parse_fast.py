"""The compiled fast path of :func:`honeyscope.ingest.parse.parse_block`.

:mod:`honeyscope.ingest._fastparse` (C, built on install where a compiler is available) reads a
block's line bytes once and *claims* the lines it is certain become rows -- the kernel's own
``IN=.. OUT=..`` body after an RFC 3164 or RFC 3339 stamp or in a ``journalctl -o json`` record,
IPv4 or IPv6, TCP, UDP, ICMP and ICMPv6 (errors with their embedded header too) -- writing every
column of their rows straight from the bytes (integers, addresses, microsecond times). Every other
line (anything rejected or warned about, fragments, IP options, non-ASCII text, unknown keys, ...)
is left to the general path, which parses it exactly as before; :func:`parse_block` merges both
in line order.

Inputs that depend on the whole block are computed over the whole block, as the general path
does: the "most netfilter lines end with a space" vote of the truncation rule (see
:func:`claim`), and the reference time's year. With ``--year`` (whose per-sensor year carries state
from line to line, see :func:`unwrap`) the pass gives each claimed RFC 3164 line's sensor and
position in the year instead of its time; the years are unwrapped over the whole block in line
order -- the claimed lines here, the rest by the general path (``parse._merge``) -- and the
times written after (:func:`year_times`).

``HONEYSCOPE_PARSE_FALLBACK=1`` in the environment turns the fast path off (every line takes the
general path): the tests compare both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from honeyscope import schema
from honeyscope.ingest.parse_rules import (
    ANCHOR_LOOSE_RE,
    ANCHOR_RE,
    YEARS_US,
    action,
    ref_key,
    to_utc,
)

try:
    import honeyscope.ingest._fastparse as _fastparse
except ImportError:  # pragma: no cover - where the extension could not be built
    _fastparse = None  # type: ignore[assignment]
if _fastparse is not None and not hasattr(_fastparse, "YEAR_MODE"):  # pragma: no cover
    # built from an older _fastparse.c (its parse takes other arguments): the general path until
    # it is built again (python setup.py build_ext --inplace)
    _fastparse = None  # type: ignore[assignment]

#: Environment variable that, set to anything but "" or "0", turns the compiled path off.
FALLBACK_ENV = "HONEYSCOPE_PARSE_FALLBACK"

_STR_COLS = ("host", "src", "dst", "proto", "tcp_flags", "tcp_opt", "prefix", "in_iface", "out_iface",
             "physin", "physout", "mac", "mac_dst", "mac_src", "inner_src", "inner_dst", "inner_proto")
_NUM_COLS = ("time", "uptime", "src_int", "dst_int", "family", "spt", "dpt", "icmp_type", "icmp_code",
             "icmp_id", "icmp_seq", "len", "l4_len", "ttl", "tos", "prec", "ip_id", "flowlbl", "window",
             "res", "urgp", "tcp_seq", "tcp_ack", "mark", "uid", "gid", "ethertype", "mtu", "inner_spt",
             "inner_dpt", "inner_len", "inner_ttl", "inner_ip_id", "inner_icmp_type", "inner_icmp_code")
_BOOL_COLS = ("df", "mf", "ce")


def available() -> bool:
    """True when the compiled path is built and not turned off by :data:`FALLBACK_ENV`."""
    return _fastparse is not None and os.environ.get(FALLBACK_ENV, "") in ("", "0")


def _buffers(lines: pa.Array) -> tuple[Any, np.ndarray, bool]:
    """(data buffer, offsets of the array's own lines, 64-bit offsets?) of a string array."""
    n = len(lines)
    bufs = lines.buffers()
    large = pa.types.is_large_string(lines.type)
    offs = np.frombuffer(bufs[1], np.int64 if large else np.int32)[lines.offset: lines.offset + n + 1]
    data = bufs[2] if bufs[2] is not None else b""
    return data, np.ascontiguousarray(offs), large


def _anchored(text: pa.Array, records: bool) -> tuple[np.ndarray, np.ndarray]:
    """(has a netfilter body, ends with a space) of each line as the general path finds them,
    for the lines the compiled pass leaves undecided: non-ASCII text, or journal records (whose
    text is their MESSAGE)."""
    import polars as pl
    t = pl.Series("t", text).cast(pl.String).str.strip_chars_end("\r\n\x00")
    if records:
        t = t.str.json_path_match("$.MESSAGE")
    at = pl.coalesce(t.str.find(ANCHOR_RE), t.str.find(ANCHOR_LOOSE_RE))
    df = pl.select(at.is_not_null().alias("nf"), t.str.ends_with(" ").fill_null(False).alias("sp"))
    return df.to_series(0).to_numpy(), df.to_series(1).to_numpy()


def _utc(t: np.ndarray, naive: np.ndarray, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """(UTC microseconds, known?) of times of which those flagged ``naive`` are wall-clock times
    in ``tz``, converted as the general path converts them (a clock that does not exist: unknown)."""
    ok = np.ones(len(t), np.bool_)
    if tz.upper() == "UTC" or not naive.any():
        return t, ok
    import polars as pl
    conv = pl.select(to_utc(pl.lit(pl.Series("t", t[naive])), tz)).to_series()
    t = t.copy()
    t[naive] = conv.cast(pl.Int64).fill_null(0).to_numpy()
    ok[naive] = conv.is_not_null().to_numpy()
    return t, ok


def _strings(m: int, parts: tuple[Any, Any, Any]) -> pa.Array:
    valid, offsets, data = parts
    return pa.Array.from_buffers(pa.string(), m, [None if valid is None else pa.py_buffer(valid),
                                                  pa.py_buffer(offsets), pa.py_buffer(data)])


def _repeat(text: str | None, m: int) -> pa.Array:
    if text is None:
        return pa.nulls(m, pa.string())
    b = text.encode()
    if m * len(b) > INT32_MAX:  # (a string column's offsets are int32: the general path instead)
        raise OverflowError("repeated text over 2 GiB")
    return pa.Array.from_buffers(pa.string(), m, [
        None, pa.py_buffer((np.arange(m + 1, dtype=np.int32) * len(b)).tobytes()), pa.py_buffer(b * m)])


#: The largest offset of an Arrow string column (int32 offsets); the compiled pass takes blocks
#: below it only (its columns' offsets are int32 too)
INT32_MAX = 2**31 - 1


def _str_array(values: list[str]) -> pa.Array:
    """A string array of ``values`` (no nulls), from buffers: ``pa.array`` of Python objects
    imports pandas (0.12 s of a small ingest)."""
    enc = [v.encode() for v in values]
    offsets = np.zeros(len(enc) + 1, np.int32)
    np.cumsum([len(b) for b in enc], out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(enc), [None, pa.py_buffer(offsets.tobytes()),
                                                         pa.py_buffer(b"".join(enc))])


def _fill(strings: pa.Array, text: str) -> pa.Array:
    """``strings`` with ``text`` where null (without a Python scalar: see :func:`_str_array`)."""
    if not strings.null_count:
        return strings
    import pyarrow.compute as pc  # (only here: its import is 0.02-0.03 s of every ingest)

    return pc.coalesce(strings, _repeat(text, len(strings)))


def _numbers(values: np.ndarray, type_: pa.DataType, ok: np.ndarray | None = None) -> pa.Array:
    """A fixed-width array of ``values`` (of ``type_``'s width; null where not ``ok``), from
    buffers: ``pa.array`` of a numpy array imports pandas too (see :func:`_str_array`)."""
    values = np.ascontiguousarray(values)
    valid = None if ok is None or ok.all() else pa.py_buffer(np.packbits(ok, bitorder="little"))
    return pa.Array.from_buffers(type_, len(values), [valid, pa.py_buffer(values)])


def _times(us: np.ndarray, ok: np.ndarray | None = None) -> pa.Array:
    """UTC times of int64 microseconds (null where not ``ok``)."""
    return _numbers(us.astype(np.int64, copy=False), schema.TIME_TYPE, ok)


def _rejects(d: dict, first_line: int, ctx: Any) -> tuple[pa.Table, np.ndarray]:
    """The claimed rejects (lines without a netfilter body) and their line indexes."""
    m = int(d["rej_m"])
    idx = np.frombuffer(d["rej_idx"], np.uint32)
    _, b = d["rej_time"]
    t, ok = _utc(np.frombuffer(b, np.int64), np.frombuffer(d["rej_naive"], np.bool_), ctx.tz)
    ok &= (t >= YEARS_US[0]) & (t < YEARS_US[1])  # (a time outside YEARS is left null)
    host = _strings(m, d["rej_host"])  # (a line without a host has the sensor's: by the pass)
    table = pa.Table.from_arrays([
        _repeat(ctx.source, m), _numbers((idx + first_line).astype(np.uint32), pa.uint32()),
        _repeat("not a netfilter line", m), _strings(m, d["rej_text"]), host,
        _times(t, ok)], schema=schema.REJECT_SCHEMA)
    return table, idx


#: prefix → action, as parse_rules.action reads them (a sensor logs a handful of prefixes)
_ACTIONS: dict[str, str] = {}


def _actions(codes: np.ndarray, prefixes: list[str]) -> pa.Array:
    """The action of each row, by parse_rules.action of its prefix (``codes`` into the block's
    distinct ``prefixes``, "" for none), read once per distinct prefix; built from buffers."""
    global _ACTIONS
    known = _ACTIONS  # (blocks parse on threads: the table is replaced, never changed in place)
    new = [v for v in prefixes if v not in known]
    if new:
        known = {} if len(known) > 100_000 else dict(known)
        known.update((v, action(v)) for v in new)
        _ACTIONS = known
    words = [known[v].encode() for v in prefixes]
    width = max((len(w) for w in words), default=0)
    table = np.zeros((len(words), max(width, 1)), np.uint8)
    lengths = np.array([len(w) for w in words], np.int32)
    for k, w in enumerate(words):
        table[k, :len(w)] = np.frombuffer(w, np.uint8)
    lens = lengths[codes]
    offsets = np.zeros(len(codes) + 1, np.int32)
    np.cumsum(lens, out=offsets[1:])
    chars = table[codes][np.arange(table.shape[1]) < lens[:, None]]
    return pa.Array.from_buffers(pa.string(), len(codes), [None, pa.py_buffer(offsets),
                                                           pa.py_buffer(chars.tobytes())])


#: (months as (``YYYY-MM``, first row, end row), rows per host in the order the store counts them,
#: runs of equal (month, host) as (month since 1970-01, host or None, rows)) of rows in store order
Layout = tuple[list[tuple[str, int, int]], dict[str, int], list[tuple[int, str | None, int]]]


def _layout(runs: list[tuple[int, str | None, int]]) -> Layout:
    from honeyscope.store.store import month_name

    months: list[tuple[str, int, int]] = []
    hosts: dict[str, int] = {}
    none = 0
    at = 0
    for month, host, count in runs:
        if months and months[-1][0] == month_name(month):
            months[-1] = (months[-1][0], months[-1][1], at + count)
        else:
            months.append((month_name(month), at, at + count))
        at += count
        if host is None:
            none += count
        else:
            hosts[host] = hosts.get(host, 0) + count
    if none:
        hosts["(none)"] = none
    return months, hosts, runs


@dataclass
class YearClaim:
    """What the compiled pass gives under ``--year`` for the times still to write: per line of
    the block, a claimed RFC 3164 line's position in the year (seconds into a 365-day year, as
    the general path counts it; -1: none) and its sensor (a code into ``names``: its host, ""
    for none); per claimed row / reject, its line, the time the pass wrote (RFC 3339 stamps;
    RFC 3164 ones are written from the position) and whether that is wall-clock time."""
    ypos: np.ndarray
    ycode: np.ndarray
    names: list[str]
    row_at: np.ndarray
    row_t: np.ndarray
    row_naive: np.ndarray
    rej_at: np.ndarray
    rej_t: np.ndarray
    rej_naive: np.ndarray


#: Half a (365-day) year in seconds: the step in a sensor's positions that changes its year.
HALF_YEAR = 365 * 86400 // 2


def unwrap(codes: np.ndarray, pos: np.ndarray, names: list[str], state: dict) -> np.ndarray:
    """The year offsets (from ``--year``) of stamps at positions ``pos`` (line order) of sensors
    ``codes`` (into ``names``), as :func:`honeyscope.ingest.parse._times` unwraps them: per sensor,
    a step back of more than half a year from the sensor's previous stamp is the next year, a step
    forward of more than half a year the year before; ``state`` (sensor → (last position, year
    offset)) carries each sensor's last stamp from block to block and is updated."""
    k = len(codes)
    if not k:
        return np.zeros(0, np.int64)
    order = np.argsort(codes, kind="stable")
    c = codes[order].astype(np.int64)
    p = pos[order].astype(np.int64)
    first = np.ones(k, np.bool_)
    first[1:] = c[1:] != c[:-1]
    known = np.array([n in state for n in names], np.bool_)
    last = np.array([state[n][0] if n in state else 0 for n in names], np.int64)
    base = np.array([state[n][1] if n in state else 0 for n in names], np.int64)
    prev = np.empty(k, np.int64)
    prev[1:] = p[:-1]
    prev[first] = last[c[first]]
    step = p - prev
    inc = np.where(step < -HALF_YEAR, 1, np.where(step > HALF_YEAR, -1, 0)).astype(np.int64)
    inc[first & ~known[c]] = 0
    cs = np.cumsum(inc)
    starts = np.flatnonzero(first)
    group = np.cumsum(first) - 1
    off = cs - (cs - inc)[starts][group] + base[c]
    for j in np.r_[starts[1:] - 1, k - 1]:
        state[names[c[j]]] = (int(p[j]), int(off[j]))
    out = np.empty(k, np.int64)
    out[order] = off
    return out


def _civil_us(year: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Wall-clock microseconds of position ``pos`` (a date valid in every year, not Feb 29) in
    ``year``: March on is a day later in a leap year."""
    y2 = year - 1  # (H. Hinnant's days_from_civil of Jan 1)
    era = y2 // 400
    yoe = y2 - era * 400
    jan1 = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + 306 - 719468
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days = jan1 + pos // 86400 + (leap & (pos >= 59 * 86400))
    return (days * 86400 + pos % 86400) * 1_000_000


def year_times(rows: pa.Table, rejects: pa.Table, y: YearClaim, yoff: np.ndarray, ctx: Any
               ) -> tuple[pa.Table, pa.Table] | None:
    """``rows`` and ``rejects`` of :func:`claim` under ``--year`` with their times, given the
    lines' year offsets ``yoff`` (one per line of the block, read where ``y.ypos`` has a
    position); None when a row's time is not one the general path keeps (a clock that does not
    exist in ``ctx.tz``, outside YEARS): then the block takes the general path whole."""
    def times(at: np.ndarray, t: np.ndarray, naive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = y.ypos[at]
        has = p >= 0
        t = t.copy()
        t[has] = _civil_us(int(ctx.year) + yoff[at[has]], p[has])
        t, ok = _utc(t, naive, ctx.tz)
        return t, ok & (t >= YEARS_US[0]) & (t < YEARS_US[1])
    t, ok = times(y.row_at, y.row_t, y.row_naive)
    if not ok.all():
        return None
    rows = rows.set_column(rows.schema.get_field_index("time"), "time", _times(t))
    t, ok = times(y.rej_at, y.rej_t, y.rej_naive)
    rejects = rejects.set_column(rejects.schema.get_field_index("time"), "time", _times(t, ok))
    return rows, rejects


def claim(lines: pa.Array, first_line: int, ctx: Any
          ) -> tuple[pa.Table, pa.Table, np.ndarray, bool, YearClaim | None] | None:
    """Run the compiled pass over a block: (rows of the lines it claims, in line order; the rejects
    it claims; claimed mask; the block's trailing-space vote; under ``--year``, what the times of
    those rows and rejects still need, see :func:`year_times`), or None when the block must take
    the general path whole."""
    got = _claim(lines, first_line, ctx)
    return None if got is None else (*got[:4], got[5])


def claim_bytes(block: bytes, first_line: int, ctx: Any
                ) -> tuple[pa.Table, pa.Table, np.ndarray, bool, Layout | None, YearClaim | None] | None:
    """:func:`claim` over a block's bytes -- ASCII text without CR, whose lines are cut at its
    newlines as :func:`honeyscope.ingest.sources.lines_array` cuts them (the array is made only
    if some line needs it) -- with the rows in the store's order -- by (month, host, time), then
    line -- and their :data:`Layout` where the compiled pass alone decides them (UTC times, no
    line it leaves undecided, no ``--year``); else in line order, layout None."""
    return _claim(None, first_line, ctx, block=block, store_order=True)


def lines_of(lines: pa.Array | None, block: bytes | None) -> pa.Array:
    """``lines``, or the lines of ``block`` (:func:`honeyscope.ingest.sources.lines_array`) when
    the compiled pass was given a block's bytes (:func:`claim_bytes`)."""
    if lines is not None:
        return lines
    from honeyscope.ingest.sources import lines_array

    assert block is not None
    return lines_array(block)


def _claim(lines: pa.Array | None, first_line: int, ctx: Any, *, block: bytes | None = None,
           store_order: bool = False
           ) -> tuple[pa.Table, pa.Table, np.ndarray, bool, Layout | None, YearClaim | None] | None:
    if lines is not None and lines.null_count:
        return None
    if block is not None:
        data, offs, large, n = block, None, True, 0
    else:
        assert lines is not None
        if not (pa.types.is_string(lines.type) or pa.types.is_large_string(lines.type)):
            lines = lines.cast(pa.large_string())
        n = len(lines)
        data, offs, large = _buffers(lines)
    if len(data) > INT32_MAX:  # its string columns' int32 offsets could not hold it
        return None
    ry, rkey = ref_key(ctx.reference_time, ctx.tz)
    utc = ctx.tz.upper() == "UTC"
    year_mode = ctx.year is not None
    d = _fastparse.parse(data, offs, n, large, ry, rkey, store_order and utc, ctx.sensor,
                         YEARS_US[0], YEARS_US[1], year_mode)
    n = int(d["n"])
    kind = np.frombuffer(d["claimed"], np.uint8)
    body = np.frombuffer(d["has_body"], np.uint8)
    tail = np.frombuffer(d["tail_sp"], np.bool_).copy()
    nf = body == 1
    for code in (2, 3):
        undecided = np.flatnonzero(body == code)
        if len(undecided):
            lines = lines_of(lines, block)
            nf[undecided], tail[undecided] = _anchored(
                lines.take(_numbers(undecided.astype(np.int64), pa.int64())), code == 3)
    # (the truncation rule: where most netfilter lines end with a space, one without it was cut)
    spaced = int(np.count_nonzero(tail & nf)) * 2 > int(np.count_nonzero(nf))
    claimed = kind != 0
    rejects, rej_at = _rejects(d, first_line, ctx)
    m = int(d["m"])
    at = np.frombuffer(d["row"], np.uint32)
    cols: dict[str, pa.Array] = {name: _strings(m, d[name]) for name in _STR_COLS}
    types = {f.name: f.type for f in schema.SCHEMA}
    for name in _NUM_COLS:
        valid, b = d[name]
        cols[name] = pa.Array.from_buffers(types[name], m, [pa.py_buffer(valid), pa.py_buffer(b)])
    for name in _BOOL_COLS:
        cols[name] = pa.Array.from_buffers(pa.bool_(), m, [None, pa.py_buffer(d[name])])
    layout = None
    if d["sorted"]:
        # (the vote, the time bounds and the sensor of a line without a host applied by the pass)
        layout = _layout(d["runs"])
        keep = None
        cols["time"] = cols["time"].view(schema.TIME_TYPE)
    else:
        keep = tail[at] if spaced else np.ones(m, np.bool_)
        if not year_mode:  # (under --year, times after the years are unwrapped: year_times)
            t, ok = _utc(np.frombuffer(cols["time"].buffers()[1], np.int64)[:m],
                         np.frombuffer(d["naive"], np.bool_), ctx.tz)
            keep &= ok & (t >= YEARS_US[0]) & (t < YEARS_US[1])  # (outside YEARS: "bad timestamp")
            cols["time"] = _times(t)
        if ctx.sensor is not None:
            cols["host"] = _fill(cols["host"], ctx.sensor)
    cols["action"] = _actions(np.frombuffer(d["prefix_code"], np.int32), d["prefixes"])
    cols["source"] = _repeat(ctx.source, m)
    cols["line"] = _numbers((at + first_line).astype(np.uint32), pa.uint32())
    table = pa.Table.from_arrays(
        [cols[f.name] if f.name in cols else pa.nulls(m, f.type) for f in schema.SCHEMA],
        schema=schema.SCHEMA)
    if keep is not None and not keep.all():
        table = table.filter(pa.Array.from_buffers(
            pa.bool_(), m, [None, pa.py_buffer(np.packbits(keep, bitorder="little"))]))
        claimed[at[~keep]] = False
    year = None
    if year_mode:
        kept = keep if keep is not None else np.ones(m, np.bool_)
        year = YearClaim(
            ypos=np.frombuffer(d["ypos"], np.int64), ycode=np.frombuffer(d["ycode"], np.int32),
            names=d["ynames"], row_at=at[kept],
            row_t=np.frombuffer(d["time"][1], np.int64)[:m][kept],
            row_naive=np.frombuffer(d["naive"], np.bool_)[kept], rej_at=rej_at,
            rej_t=np.frombuffer(d["rej_time"][1], np.int64),
            rej_naive=np.frombuffer(d["rej_naive"], np.bool_))
    return table, rejects, claimed, spaced, layout, year


def count_lines(block: bytes) -> int:
    """The lines of a block (its newlines, and an unterminated last line): by the compiled pass,
    or :func:`honeyscope.ingest.sources.count_lines` where it is not built."""
    if _fastparse is None:
        from honeyscope.ingest.sources import count_lines as by_numpy

        return by_numpy(block)
    return int(_fastparse.count_lines(block))


def keep_freed_memory() -> bool:
    """Have the C library keep large freed blocks for the next ones instead of returning each to
    the kernel (whose fresh pages it zeroes): an ingest allocates and frees blocks of the same
    sizes over and over. Measured on the 400k-line benchmark: 0.3 s of system CPU to 0.14, peak
    RSS unchanged. False where it is not glibc or the extension is not built."""
    return _fastparse is not None and bool(_fastparse.keep_freed_memory())
