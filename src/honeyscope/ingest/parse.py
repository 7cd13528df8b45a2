"""The raw netfilter LOG line parser: a block of lines in, canonical rows and rejects out.

Vectorised with polars string expressions over the whole block (no per-line Python). Each line
is split once into four segments, and every field is then one small, literal-prefixed regex
over the one segment where that key means what we want:

``head``   everything before the first ``IN=``: syslog framing (``<PRI>``, grep artefact, RFC3164
           or RFC3339 stamp, host, ``kernel:`` tag, ``[uptime]``) and the log prefix;
``ip``     ``IN=`` up to the first ``PROTO=``: interfaces, MAC and the IP header (so ``LEN=`` and
           ``ID=`` here are the IP ones, ``OPT (..)`` here is ``ip_opt``);
``l4``     after ``PROTO=`` up to the first ``[``: the transport header (UDP ``LEN=`` is
           ``l4_len``, ICMP ``ID=``/``SEQ=`` are the echo id/sequence, ``OPT (..)`` is ``tcp_opt``);
``brk``    from the first ``[`` on: the original header an ICMP error embeds (``inner_*``), never
           read for the packet's own fields, or ``INCOMPLETE [n bytes]``.

``UID=``/``GID=``/``MARK=`` are searched in the whole message: the kernel never prints them in
the embedded header. Rare framings (``journalctl -o json`` records) take an extra step applied
only when a block holds one.

Every input line becomes one row or one reject (reasons: :data:`REASONS`); nothing raises.

Two paths give the same rows, rejects and warnings (``tests/test_parse_paths.py``): blocks of at
least :data:`KERNEL_MIN_LINES` lines are scanned by the compiled kernel (:mod:`parse_kernel`), which
also decodes every numeric field straight from the line bytes; smaller blocks (and every block
where numba is missing) take the numpy tokeniser and polars' string parsing, so that a small
ingest never pays numba's start-up.

Before both, where the C extension is built, :mod:`parse_fast` claims the ordinary lines of a block
and writes their rows (and the rejects of lines without a netfilter body) straight from the bytes;
only the lines it leaves take the path above, with the block's own trailing-space vote, and the two
are merged in line order (``tests/test_parse_fast.py``).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from honeyscope import schema
from honeyscope.ingest import parse_fast
from honeyscope.ingest.parse_rules import (
    ANCHOR_LOOSE_RE,
    ANCHOR_RE,
    MAX_LINE_BYTES,
    YEARS,
    actions,
    by_distinct,
    ref_key,
    to_utc,
)

if TYPE_CHECKING:  # (polars is imported by the general path's functions: the fast path never needs it)
    import polars as pl

#: Blocks of fewer lines take the numpy path (same results): starting numba's compiled code in a
#: process (importing it, loading the cached machine code) costs more than such a block's parse.
KERNEL_MIN_LINES = 4096
#: The lines the compiled fast path (:mod:`parse_fast`) leaves to the general path take the numpy
#: path below this many lines a block (so that an ingest where the fast path claims nearly every
#: line never starts numba).
FALLBACK_KERNEL_MIN_LINES = 65536
#: The compiled kernel module once imported; None where numba is missing (False: not tried yet).
_kernel: Any = False


def _kernel_for(n: int, least: int | None = None) -> Any:
    """The compiled kernel (:mod:`parse_kernel`) for a block of ``n`` lines, or None for the
    numpy path: blocks under ``least`` lines (default :data:`KERNEL_MIN_LINES`), or numba
    missing."""
    global _kernel
    if _kernel is None or n < (KERNEL_MIN_LINES if least is None else least):
        return None
    if _kernel is False:
        try:
            from honeyscope.ingest import parse_kernel
        except ImportError:  # pragma: no cover - exercised where numba is not installed
            parse_kernel = None  # type: ignore[assignment]
        _kernel = parse_kernel
    return _kernel

#: A reject keeps at most this much of its line's text.
MAX_REJECT_TEXT = 4096

#: Every reason a line can be rejected for (the ingest ledger counts them).
REASONS = (
    "blank line",
    "line too long",
    "not a netfilter line",
    "truncated",
    "bad timestamp",
    "bad address",
    "port out of range",
    "bad value",
    "missing port",
    "conflicting values",
    "parser error",
)

#: Protocols whose transport header carries ports (a line of these without ports is damaged
#: unless it is a non-first fragment or ``INCOMPLETE``).
PORT_PROTOS = ("TCP", "UDP", "UDPLITE", "SCTP", "DCCP")

_MONTHS = {m: i + 1 for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"))}


@dataclass
class ParseContext:
    source: str  # input path or "-"
    reference_time: datetime  # tz-aware: file mtime (now for stdin), for year-less stamps
    year: int | None = None  # --year
    tz: str = "UTC"  # --tz: zone of stamps without offset
    sensor: str | None = None  # --sensor: host for lines without one (only fills, never overrides)
    state: dict = field(default_factory=dict)  # carried between blocks of one input


@dataclass
class ParseResult:
    rows: pa.Table  # schema.SCHEMA
    rejects: pa.Table  # schema.REJECT_SCHEMA
    #: rows kept with an auxiliary field left null, by warning ("bad icmp_id": n)
    warnings: dict[str, int] = field(default_factory=dict)
    #: None: ``rows`` are in line order; else they are in the store's order (by month, host, time,
    #: then line) and this is their :data:`honeyscope.ingest.parse_fast.Layout`
    layout: Any = None


# --------------------------------------------------------------------------------------------
# regular expressions (all small; most start with a literal so the engine can skip ahead)
# --------------------------------------------------------------------------------------------

_TS3164 = r"[A-Z][a-z]{2} {1,2}\d{1,2} \d{2}:\d{2}:\d{2}"
_TS3339 = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
# rsyslog's %timegenerated:::date-unixtimestamp% (the DShield sensor's template): epoch seconds
_TSEPOCH = r"\d{9,10}(?:\.\d{1,6})?"
# optional <PRI>, optional grep artefact ("somefile:"), the stamp
_LEAD = r"^(?:<\d{1,3}>)?(?:[^\s:\[<]*:)?"
_TS_RE = _LEAD + "(" + _TS3164 + "|" + _TS3339 + r")(?:\s+|$)"
_EPOCH_RE = _LEAD + "(" + _TSEPOCH + r")\s+"
_FRAME_RE = (r"^(?:<\d{1,3}>)?(?:(?:[^\s:\[<]*:)?(?:" + _TS3164 + "|" + _TS3339 + r")(?:\s+|$)|"
             + r"(?:[^\s:\[<]*:)?" + _TSEPOCH + r"\s+)?")
# A header without a stamp of these framings is one only when nothing in it looks like a clock,
# a date or a syslog host and tag: anything else is a framing we do not know (never guessed).
_MONTH_OR_DAY = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun)"
_UNKNOWN_FRAME_RE = (
    r"\d{1,2}:\d{2}:\d{2}"  # a clock
    r"|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\b\d{1,2}[-/.](?:\d{1,2}|[A-Za-z]{3})[-/.]\d{2,4}\b"  # a date
    r"|(?i:^(?:<\d{1,3}>)?(?:[^\s:\[<]*:)?" + _MONTH_OR_DAY + r"[a-z]*\.?,?\s+\d)"  # "mar  3", "Mon 3"
    r"|\S\s+kernel(?:\[\d+\])?:"  # a host (or anything) before the kernel's tag
)
#: Protocol names nf_log prints (others are printed as a decimal number), plus SCTP and DCCP.
PROTO_NAMES = ("TCP", "UDP", "UDPLITE", "ICMP", "ICMPV6", "AH", "ESP", "SCTP", "DCCP")

_OCTET = r"(?:0|[1-9]\d{0,2})"  # no leading zero: the kernel prints %pI4
_V4_RE = r"^" + _OCTET + r"(?:\." + _OCTET + r"){3}$"
_DEC_RE = r"^(?:0|[1-9][0-9]*)$"
_HEX_RE = r"^(?:0[xX])?[0-9A-Fa-f]+$"
_V6_FULL_RE = r"^[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}$"


def _x(e: pl.Expr, pattern: str) -> pl.Expr:
    return e.str.extract(pattern, 1)


def _dec(e: pl.Expr) -> pl.Expr:
    return e.str.to_integer(base=10, strict=False)


def _hex(e: pl.Expr) -> pl.Expr:
    return e.str.strip_prefix("0x").str.strip_prefix("0X").str.to_integer(base=16, strict=False)


# --------------------------------------------------------------------------------------------
# addresses
# --------------------------------------------------------------------------------------------


def _canon_py(text: str) -> str | None:
    try:
        a = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is None:
        return a.compressed
    return str(a)


def _v6_compress(df: pl.DataFrame, text: str, out: str) -> pl.DataFrame:
    """Column ``out``: the canonical (RFC 5952) form of full 8-group IPv6 text in ``text``.

    Staged over a few ``with_columns`` so every expression stays small.
    """
    import polars as pl
    t = f"__{out}"
    parts = pl.col(text).str.to_lowercase().str.split_exact(":", 7)
    df = df.with_columns(
        [parts.struct.field(f"field_{i}").str.strip_chars_start("0").alias(f"{t}g{i}")
         for i in range(8)]
    )
    df = df.with_columns(
        [pl.when(pl.col(f"{t}g{i}") == "").then(pl.lit("0")).otherwise(pl.col(f"{t}g{i}")).alias(f"{t}g{i}")
         for i in range(8)]
    )
    z = [(pl.col(f"{t}g{i}") == "0").cast(pl.Int32) for i in range(8)]
    df = df.with_columns(z[7].alias(f"{t}r7"))
    for i in range(6, -1, -1):  # length of the zero run starting at group i
        df = df.with_columns((z[i] * (pl.col(f"{t}r{i + 1}") + 1)).alias(f"{t}r{i}"))
    runs = [pl.col(f"{t}r{i}") for i in range(8)]
    df = df.with_columns(pl.max_horizontal(runs).alias(f"{t}best"))
    best = pl.col(f"{t}best")
    start: pl.Expr = pl.lit(8)
    for i in range(7, -1, -1):  # leftmost start of a longest run
        start = pl.when(runs[i] == best).then(pl.lit(i)).otherwise(start)
    df = df.with_columns(start.alias(f"{t}start"))
    st = pl.col(f"{t}start")
    pieces = [
        pl.when((best >= 2) & (pl.lit(i) >= st) & (pl.lit(i) < st + best))
        .then(pl.lit("-"))
        .otherwise(pl.col(f"{t}g{i}"))
        for i in range(8)
    ]
    joined = pl.concat_str(pieces, separator=":").str.replace(r":?-(?::-)*:?", "::")
    df = df.with_columns(joined.alias(out))
    return df.drop([col for col in df.columns if col.startswith(t)])


def _address(df: pl.DataFrame, text: str, out: str, _kernel: Any) -> pl.DataFrame:
    """Columns ``out`` (canonical text), ``out_int`` (IPv4 as integer), ``_fam_<out>`` (4/6)
    and ``_bad_<out>`` (text present but not an address) from the address text column ``text``.

    Canonical dotted quads (nearly every row) are read by the compiled kernel; the rest (IPv6,
    odd IPv4 forms, garbage) take the general path, over those rows only.
    """
    import polars as pl
    import pyarrow.compute as pc
    if _kernel is None:
        return _address_general(df, text, out)
    col = df.get_column(text)
    arr = col.to_arrow()
    value, ok = _kernel.ipv4(arr)
    slow = np.flatnonzero(~ok & col.is_not_null().to_numpy())
    canon = pl.Series(out, pc.if_else(pa.array(ok), arr, pa.scalar(None, arr.type))).cast(pl.String)
    as_int = pl.Series(f"{out}_int", pa.array(value, mask=~ok), pl.Int64)
    fam = pl.Series(f"_fam_{out}", pa.array(np.full(len(ok), 4, np.int32), mask=~ok), pl.Int32)
    bad = pl.Series(f"_bad_{out}", np.zeros(len(ok), np.bool_))
    if len(slow):
        sub = _address_general(pl.DataFrame({text: col.gather(slow)}), text, out)
        canon = canon.scatter(slow, sub.get_column(out).cast(pl.String))
        as_int = as_int.scatter(slow, sub.get_column(f"{out}_int").cast(pl.Int64))
        fam = fam.scatter(slow, sub.get_column(f"_fam_{out}").cast(pl.Int32))
        bad = bad.scatter(slow, sub.get_column(f"_bad_{out}"))
    return df.with_columns(canon, as_int, fam, bad)


def _address_general(df: pl.DataFrame, text: str, out: str) -> pl.DataFrame:
    """:func:`_address` by polars expressions alone (any text)."""
    import polars as pl
    t = f"__{out}"
    is4 = pl.col(text).str.contains(_V4_RE)
    full6 = pl.col(text).str.contains(_V6_FULL_RE)
    df = df.with_columns(
        pl.when(is4).then(pl.col(text)).str.split_exact(".", 3).alias(f"{t}v4"),
        pl.when(full6).then(pl.col(text)).alias(f"{t}v6"),
        (pl.col(text).is_not_null() & ~is4 & ~full6 & pl.col(text).str.contains(":", literal=True))
        .alias(f"{t}odd"),
    )
    octs = [_dec(pl.col(f"{t}v4").struct.field(f"field_{i}")) for i in range(4)]
    df = df.with_columns([o.alias(f"{t}o{i}") for i, o in enumerate(octs)])
    o = [pl.col(f"{t}o{i}") for i in range(4)]
    ok4 = pl.all_horizontal([x <= 255 for x in o]).fill_null(False)
    df = df.with_columns(ok4.alias(f"{t}ok4"))
    if df.get_column(f"{t}v6").null_count() < df.height:
        df = _v6_compress(df, f"{t}v6", f"{t}c6")
    else:  # (no full IPv6 text, nothing to compress: 40 expressions saved, a third of a small block)
        df = df.with_columns(pl.lit(None, pl.String).alias(f"{t}c6"))
    odd = df.get_column(f"{t}odd")
    if odd.any():  # compressed or IPv4-mapped IPv6 text: rare, canonicalised per distinct value
        vals = df.filter(odd).get_column(text).unique()
        mapping = {v: _canon_py(v) for v in vals.to_list()}
        df = df.with_columns(
            pl.when(pl.col(f"{t}odd")).then(pl.col(text).replace_strict(mapping, default=None,
                                                             return_dtype=pl.String))
            .alias(f"{t}py")
        )
    else:
        df = df.with_columns(pl.lit(None, pl.String).alias(f"{t}py"))
    ok = pl.col(f"{t}ok4")
    v4txt = pl.concat_str([x.cast(pl.String) for x in o], separator=".")
    canon = pl.when(ok).then(v4txt).otherwise(pl.coalesce(pl.col(f"{t}c6"), pl.col(f"{t}py")))
    df = df.with_columns(canon.alias(out))
    df = df.with_columns(
        pl.when(ok).then(o[0] * 16777216 + o[1] * 65536 + o[2] * 256 + o[3]).alias(f"{out}_int"),
        pl.when(ok).then(pl.lit(4))
        .when(pl.col(out).is_not_null())
        .then(pl.when(pl.col(out).str.contains(".", literal=True)).then(pl.lit(4)).otherwise(pl.lit(6)))
        .alias(f"_fam_{out}"),
        (pl.col(text).is_not_null() & pl.col(out).is_null()).alias(f"_bad_{out}"),
    )
    return df.drop([col for col in df.columns if col.startswith(t)])


# --------------------------------------------------------------------------------------------
# time
# --------------------------------------------------------------------------------------------


def _days_from_civil(y: pl.Expr, m: pl.Expr, d: pl.Expr) -> pl.Expr:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    import polars as pl
    y2 = y - (m <= 2).cast(pl.Int64)
    era = y2.floordiv(400)
    yoe = y2 - era * 400
    mp = pl.when(m > 2).then(m - 3).otherwise(m + 9)
    doy = (153 * mp + 2).floordiv(5) + d - 1
    doe = yoe * 365 + yoe.floordiv(4) - yoe.floordiv(100) + doy
    return era * 146097 + doe - 719468


def _leap(y: pl.Expr) -> pl.Expr:
    return ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)


def _month_len(y: pl.Expr, m: pl.Expr) -> pl.Expr:
    import polars as pl
    return (
        pl.when(m == 2).then(pl.when(_leap(y)).then(29).otherwise(28))
        .when(m.is_in([4, 6, 9, 11])).then(30)
        .otherwise(31)
    )


def _bsd_parts(ts: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(month, day, seconds of day) of an RFC3164 stamp ``Mmm dd HH:MM:SS``."""
    import polars as pl
    mon = ts.str.slice(0, 3).replace_strict(_MONTHS, default=None, return_dtype=pl.Int64)
    clock = ts.str.slice(-8)
    day = _dec(ts.str.slice(3, 3).str.strip_chars())
    secs = (
        _dec(clock.str.slice(0, 2)) * 3600
        + _dec(clock.str.slice(3, 2)) * 60
        + _dec(clock.str.slice(6, 2))
    )
    return mon, day, secs


# --------------------------------------------------------------------------------------------
# the block parser
# --------------------------------------------------------------------------------------------


def parse_block(lines: pa.Array, first_line: int, ctx: ParseContext) -> ParseResult:
    """Parse ``lines`` (line ``first_line`` first, 1-based) into canonical rows and rejects.

    Never raises: should the vectorised pass fail on some input, the block is halved until
    the offending lines are isolated and rejected as "parser error".
    """
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks() if lines.num_chunks != 1 else lines.chunk(0)
    if len(lines) and parse_fast.available():
        try:
            fast = parse_fast.claim(lines, first_line, ctx)
            if fast is not None:
                rows, rejects, claimed, spaced, year = fast
                return _merge(lines, first_line, ctx, rows, rejects, claimed, spaced, year=year)
        except Exception:  # the general path alone gives the block's answer
            if os.environ.get("HONEYSCOPE_DEBUG"):  # (the same answer, slower: shown when debugging)
                raise
    return _general(lines, first_line, ctx)


def parse_bytes(block: bytes, first_line: int, ctx: ParseContext) -> tuple[ParseResult, int]:
    """A block of text (whole lines, as :meth:`honeyscope.ingest.sources.Reader.blocks` yields it) parsed as
    :func:`parse_block` parses its lines (:func:`honeyscope.ingest.sources.lines_array`), and its
    number of lines; the rows in the store's order where the compiled pass can give them so
    (:attr:`ParseResult.layout`), else in line order. ASCII text without CR goes to the compiled
    pass as it is: no array of its lines is made unless some line takes the general path."""
    from honeyscope.ingest import sources

    if block and parse_fast.available() and block.isascii() and b"\r" not in block:
        try:
            fast = parse_fast.claim_bytes(block, first_line, ctx)
            if fast is not None:
                rows, rejects, claimed, spaced, layout, year = fast
                return _merge(None, first_line, ctx, rows, rejects, claimed, spaced, layout,
                              block=block, year=year), len(claimed)
        except Exception:  # the general path alone gives the block's answer
            if os.environ.get("HONEYSCOPE_DEBUG"):  # (the same answer, slower: shown when debugging)
                raise
    lines = sources.lines_array(block)
    return parse_block(lines, first_line, ctx), len(lines)


def _general(lines: pa.Array, first_line: int, ctx: ParseContext) -> ParseResult:
    try:
        return _parse(lines, first_line, ctx)
    except Exception:
        n = len(lines)
        if n <= 1:
            return _all_rejected(lines, first_line, ctx, "parser error")
        half = n // 2
        a = parse_block(lines.slice(0, half), first_line, ctx)
        b = parse_block(lines.slice(half), first_line + half, ctx)
        warn = dict(a.warnings)
        for k, v in b.warnings.items():
            warn[k] = warn.get(k, 0) + v
        return ParseResult(
            pa.concat_tables([a.rows, b.rows]), pa.concat_tables([a.rejects, b.rejects]), warn
        )


def _merge(lines: pa.Array | None, first_line: int, ctx: ParseContext, rows: pa.Table,
           rejects: pa.Table, claimed: np.ndarray, spaced: bool, layout: Any = None,
           block: bytes | None = None, year: parse_fast.YearClaim | None = None) -> ParseResult:
    """The block's result from the compiled path's rows and rejects and the general path's parse
    of the lines it did not claim (rejects in line order; rows in line order, or in the store's
    order with their ``layout`` when the general path adds none). ``block``: the block's bytes,
    cut into ``lines`` only when needed. ``year``: under ``--year``, what the compiled rows'
    times still need: the years of the whole block are unwrapped in line order (the claimed
    lines' stamps given to the general path's, see :func:`_times`), and where a claimed row's
    time turns out one the general path would reject, the block takes the general path whole
    (with the carried state as it was)."""
    if year is not None:
        st = ctx.state.setdefault("bsd_sensor_years", {})
        before = dict(st)
        got = None
        try:
            got = _merge_year(lines, first_line, ctx, rows, rejects, claimed, spaced, block, year)
        finally:
            if got is None:  # (failed, or the block's to the general path: the state as it was)
                st.clear()
                st.update(before)
        return got if got is not None else _general(parse_fast.lines_of(lines, block), first_line, ctx)
    rest = np.flatnonzero(~claimed)
    if not len(rest):
        return ParseResult(rows, rejects, {}, layout)
    lines = parse_fast.lines_of(lines, block)
    sub = _parse(lines.take(pa.array(rest)), first_line, ctx, rest + first_line, spaced,
                 max(KERNEL_MIN_LINES, FALLBACK_KERNEL_MIN_LINES))
    if sub.rows.num_rows:
        layout = None
    return ParseResult(rows if layout is not None else _in_line_order(rows, sub.rows),
                       _in_line_order(rejects, sub.rejects), sub.warnings, layout)


def _merge_year(lines: pa.Array | None, first_line: int, ctx: ParseContext, rows: pa.Table,
                rejects: pa.Table, claimed: np.ndarray, spaced: bool, block: bytes | None,
                year: parse_fast.YearClaim) -> ParseResult | None:
    """:func:`_merge` under ``--year`` (None: the block must take the general path whole)."""
    part = np.flatnonzero(claimed & (year.ycode >= 0))  # (claimed lines with an RFC 3164 stamp)
    yoff = np.zeros(len(claimed), np.int64)
    rest = np.flatnonzero(~claimed)
    sub = None
    if not len(rest):
        yoff[part] = parse_fast.unwrap(year.ycode[part], year.ypos[part], year.names,
                                       ctx.state.setdefault("bsd_sensor_years", {}))
    else:
        lines = parse_fast.lines_of(lines, block)
        given = {"lines": part + first_line, "codes": year.ycode[part], "names": year.names,
                 "pos": year.ypos[part]}
        sub = _parse(lines.take(pa.array(rest)), first_line, ctx, rest + first_line, spaced,
                     max(KERNEL_MIN_LINES, FALLBACK_KERNEL_MIN_LINES), years=given)
        yoff[part] = given["yoff"]
    got = parse_fast.year_times(rows, rejects, year, yoff, ctx)
    if got is None:
        return None
    rows, rejects = got
    if sub is None:
        return ParseResult(rows, rejects, {})
    return ParseResult(_in_line_order(rows, sub.rows), _in_line_order(rejects, sub.rejects),
                       sub.warnings)


def _in_line_order(a: pa.Table, b: pa.Table) -> pa.Table:
    if not b.num_rows:
        return a
    if not a.num_rows:
        return b
    both = pa.concat_tables([a, b])
    return both.take(pa.array(np.argsort(both.column("line").to_numpy(), kind="stable")))


def _all_rejected(lines: pa.Array, first_line: int, ctx: ParseContext, reason: str) -> ParseResult:
    texts = []
    for v in lines.to_pylist():
        texts.append("" if v is None else str(v)[:1024])
    n = len(texts)
    rej = pa.table(
        {
            "source": pa.array([ctx.source] * n, pa.string()),
            "line": pa.array(range(first_line, first_line + n), pa.uint32()),
            "reason": pa.array([reason] * n, pa.string()),
            "text": pa.array(texts, pa.string()),
            "host": pa.array([ctx.sensor] * n, pa.string()),
            "time": pa.nulls(n, schema.TIME_TYPE),
        },
        schema=schema.REJECT_SCHEMA,
    )
    return ParseResult(schema.empty(), rej)


def _parse(lines: pa.Array, first_line: int, ctx: ParseContext, numbers: np.ndarray | None = None,
           spaced: bool | None = None, kernel_min: int | None = None,
           years: dict | None = None) -> ParseResult:
    """The general path over ``lines``: numbered from ``first_line`` on, or by ``numbers``; the
    trailing-space vote of :func:`_cut_tail` taken over these lines unless ``spaced`` is given
    (the vote of the whole block they were taken from); numba's kernel from ``kernel_min`` lines
    on (see :func:`_kernel_for`); ``years``: the other lines' stamps under ``--year`` (see
    :func:`_times`)."""
    import polars as pl
    c = pl.col
    _kernel = _kernel_for(len(lines), kernel_min)
    raw = pl.Series("raw", lines)
    if raw.dtype != pl.String:
        raw = raw.cast(pl.String)
    df = pl.DataFrame({"raw": raw})

    # ---- stage 0: blank / too long / JSON records --------------------------------------------
    nbytes = c.raw.str.len_bytes()
    text = c.raw.str.strip_chars_end("\r\n\x00")
    df = df.with_columns(
        _blank=c.raw.is_null() | (text.str.strip_chars().str.len_bytes() == 0),
        _long=nbytes > MAX_LINE_BYTES,
        _text=pl.when(nbytes <= MAX_LINE_BYTES).then(text),
    )
    has_json = bool(df.select(c._text.str.starts_with("{").any()).item())
    if has_json:
        # (the JSON paths are read on the records' rows only, then put back in place)
        df = df.with_columns(_json=c._text.str.starts_with("{").fill_null(False))
        at = df.select(pl.arg_where(c._json)).to_series()
        rec = df.get_column("_text").gather(at)
        text = df.get_column("_text")
        none = pl.repeat(None, df.height, dtype=pl.String, eager=True)
        df = df.with_columns(
            none.clone().scatter(at, rec.str.json_path_match("$.__REALTIME_TIMESTAMP")).alias("_jt"),
            none.scatter(at, rec.str.json_path_match("$._HOSTNAME")).alias("_jh"),
            text.scatter(at, rec.str.json_path_match("$.MESSAGE")),
        )
        del rec, text
    else:
        df = df.with_columns(
            _jt=pl.lit(None, pl.String), _jh=pl.lit(None, pl.String), _json=pl.lit(False)
        )

    # ---- stage 1+2: tokenise the netfilter part (numpy over the Arrow buffer) -----------------
    df = df.with_columns(_at=pl.coalesce(c._text.str.find(ANCHOR_RE),
                                         c._text.str.find(ANCHOR_LOOSE_RE)),
                         _tail_sp=c._text.str.ends_with(" "))
    body_at = df.get_column("_at").fill_null(-1).cast(pl.Int64).to_numpy()
    text_arr = df.get_column("_text").to_arrow()
    if isinstance(text_arr, pa.ChunkedArray):
        text_arr = text_arr.combine_chunks()
    if _kernel is None:
        from honeyscope.ingest.parse_tokens import tokenise

        toks = tokenise(text_arr, body_at)
        cols = [pl.from_arrow(v).alias(k) if isinstance(v, pa.Array) else pl.Series(k, v)
                for k, v in toks.items()]
        del toks
    else:
        cols = _scan_columns(_kernel, text_arr, body_at)
    df = df.with_columns(cols).drop("_text")  # (memory: every intermediate column goes as soon
    del cols, text_arr, body_at  # as it is used)
    if "raw" in df.columns:  # a line with no netfilter body: its syslog header is the whole line
        # (read for the sensor and time its reject is counted under)
        df = df.with_columns(
            _head=pl.when(c._at.is_null()).then(c.raw.str.head(256)).otherwise(c._head))
    df = df.with_columns(
        _has_body=c._at.is_not_null(),
        t_frag=pl.coalesce(c.t_frag, c.t_frag2),
        t_ittl=pl.coalesce(c.t_ittl, c.t_ihop),
        **({} if _kernel is None else {
            "v_t_frag": pl.when(c.t_frag.is_not_null()).then(c.v_t_frag).otherwise(c.v_t_frag2),
            "v_t_ittl": pl.when(c.t_ittl.is_not_null()).then(c.v_t_ittl).otherwise(c.v_t_ihop)}),
        mf=c.mf | c._mf6,
        _ts=_x(c._head, _TS_RE),
        _rest=c._head.str.replace(_FRAME_RE, ""),
    )
    df = df.with_columns(_epoch=pl.when(c._ts.is_null()).then(_x(c._head, _EPOCH_RE)))
    df = df.with_columns(
        _bad_frame=c._ts.is_null() & c._epoch.is_null() & ~c._json & c._has_body
        & c._head.str.contains(_UNKNOWN_FRAME_RE),
    )

    # ---- stage 3: the header ------------------------------------------------------------------
    host_tok = _x(c._rest, r"^([^\s\[]\S*)\s")
    stamped = c._ts.is_not_null() | c._epoch.is_not_null()
    df = df.with_columns(
        _host=pl.when(stamped & ~host_tok.str.ends_with(":")).then(host_tok),
    )
    rest2 = pl.when(c._host.is_not_null()).then(
        c._rest.str.replace(r"^\S+\s+", "")).otherwise(c._rest)
    rest3 = rest2.str.replace(r"^kernel(?:\[\d+\])?:\s*", "")
    df = df.with_columns(_rest3=rest3)
    df = df.with_columns(
        t_uptime=_x(c._rest3, r"^\[\s*(\d+\.\d+)\]"),
        _prefix=c._rest3.str.replace(r"^\[\s*\d+\.\d+\]\s*", "").str.strip_chars(),
    ).drop("_head", "_rest", "_rest3")

    # ---- stage 4: typed values ----------------------------------------------------------------
    if years is not None:
        years["own"] = numbers
    df = _typed(df, ctx, _kernel, spaced, years)

    # ---- stage 5: reasons ---------------------------------------------------------------------
    df = _reasons(df)

    line = (pl.int_range(pl.len(), dtype=pl.Int64) + first_line if numbers is None
            else pl.Series(numbers, dtype=pl.Int64)).cast(pl.UInt32).alias("_line")
    df = df.with_columns(line)
    rows = _rows(df, ctx)
    rejects = _rejects(df, ctx)
    return ParseResult(rows, rejects, _warnings(df))


#: Token fields the parser only needs to know are present (never their text).
_PRESENCE_ONLY = ("t_param", "t_pointer", "t_gateway")


def _numeric_tokens() -> dict[str, bool]:
    """Token field → hexadecimal? of every field the parser reads as a number."""
    out = {tcol: hexa for _, tcol, hexa, _, _ in _num_checks()}
    for name in ("t_tseq", "t_tack", "t_iseq"):  # (made from t_seq / t_ack in _typed)
        del out[name]
    out.update(t_seq=False, t_ack=False, t_frag2=False, t_ihop=False)
    return out


def _scan_columns(_kernel: Any, text: pa.Array, body_at: np.ndarray) -> list[pl.Series]:
    """The token columns of the compiled scan: text for the text fields; for a numeric field
    ``t_x`` a presence column (True where logged, else null) and its value ``v_t_x`` (null where
    absent or not a number as the kernel prints it), decoded without building its text."""
    import polars as pl
    sc = _kernel.scan(text, body_at)
    n = sc.n
    numeric = _numeric_tokens()
    wanted = [(name, numeric[name]) for name in _kernel.STR_NAMES
              if name in numeric and sc.any(name)]
    nums, oks = sc.integers_of(wanted)
    row = {name: i for i, (name, _) in enumerate(wanted)}
    cols: list[pl.Series] = []
    for name in _kernel.STR_NAMES:
        if name in numeric or name in _PRESENCE_ONLY:
            if not sc.any(name):
                cols.append(pl.Series(name, pa.nulls(n, pa.bool_()), pl.Boolean))
                if name in numeric:
                    cols.append(pl.Series(f"v_{name}", pa.nulls(n, pa.int64()), pl.Int64))
                continue
            p = sc.present(name)
            cols.append(pl.Series(name, pa.array(p, mask=~p), pl.Boolean))
            if name in numeric:
                i = row[name]
                cols.append(pl.Series(f"v_{name}", pa.array(nums[i], mask=~oks[i]), pl.Int64))
        else:
            cols.append(pl.from_arrow(sc.text(name)).alias(name))  # type: ignore[union-attr]
    cols.extend(pl.Series(name, sc.flag(name)) for name in _kernel.BOOL_NAMES)
    return cols


def _warnings(df: pl.DataFrame) -> dict[str, int]:
    """Rows kept with an auxiliary field left null, by field (``{"bad icmp_id": 1}``)."""
    import polars as pl
    cols = [n for n in df.columns if n.startswith("_warn_")]
    if not cols:
        return {}
    sums = df.select(
        [pl.col(n).fill_null(False).filter(pl.col("_reason").is_null()).sum() for n in cols]).row(0)
    return {f"bad {n[len('_warn_'):]}": int(v) for n, v in zip(cols, sums, strict=True) if v}


def _num_checks() -> list[tuple[str, str, bool, int, str]]:
    """(value column, text column, hexadecimal?, max, reason) of every numeric field: the most
    nf_log can print (decimal fields: no sign, no leading zero; hex ones: an optional 0x)."""
    u16 = 65535
    u32 = 2**32 - 1
    port = "port out of range"
    bad = "bad value"
    aux = "aux"  # auxiliary: a bad value leaves the field null (with a warning), not the packet
    return [
        ("spt", "t_spt", False, u16, port),
        ("dpt", "t_dpt", False, u16, port),
        ("inner_spt", "t_ispt", False, u16, port),
        ("inner_dpt", "t_idpt", False, u16, port),
        ("len", "t_len", False, u16 + 40, bad),  # IPv6: payload length + 40 (IPv4: checked below)
        ("l4_len", "t_l4len", False, u16, bad),
        ("_tos4", "t_tos", True, 255, bad),
        ("_tc", "t_tc", False, 255, bad),
        ("prec", "t_prec", True, 255, bad),
        ("_ttl4", "t_ttl", False, 255, bad),
        ("_hop", "t_hop", False, 255, bad),
        ("_id4", "t_id", False, u16, bad),
        ("_id6", "t_id6", True, u32, bad),
        ("flowlbl", "t_flow", False, 2**20 - 1, bad),
        ("frag", "t_frag", False, u16, bad),
        ("window", "t_window", False, u16, bad),
        ("res", "t_res", True, 255, bad),
        ("urgp", "t_urgp", False, u16, bad),
        ("tcp_seq", "t_tseq", False, u32, aux),
        ("tcp_ack", "t_tack", False, u32, aux),
        ("icmp_seq", "t_iseq", False, u16, aux),
        ("icmp_id", "t_icmpid", False, u16, aux),
        ("icmp_type", "t_type", False, 255, bad),
        ("icmp_code", "t_code", False, 255, bad),
        ("mtu", "t_mtu", False, u32, aux),
        ("spi", "t_spi", True, u32, aux),
        ("mark", "t_mark", True, u32, aux),
        ("uid", "t_uid", False, u32, aux),
        ("gid", "t_gid", False, u32, aux),
        ("inner_len", "t_ilen", False, u16 + 40, bad),
        ("inner_ttl", "t_ittl", False, 255, bad),
        ("inner_ip_id", "t_iid", False, u16, bad),
        ("inner_icmp_type", "t_itype", False, 255, bad),
        ("inner_icmp_code", "t_icode", False, 255, bad),
    ]


def _cut_tail(df: pl.DataFrame, spaced: bool | None = None) -> pl.Expr:
    """True where the line lacks the fixed tail nf_log always prints for its protocol, or was
    cut inside its last token (see the README's Ingest section)."""
    import polars as pl
    c = pl.col
    has = lambda name: pl.col(name).is_not_null()  # noqa: E731
    proto = c.proto
    v6 = c._fam_src == 6
    skip = (c.frag.fill_null(0) > 0) | c._incomplete  # a later fragment, or INCOMPLETE [n bytes]
    t = c.icmp_type
    err4 = t.is_in([3, 4, 5, 11])
    icmp_tail = (
        has("t_type") & has("t_code")
        & pl.when(proto == "ICMP").then(
            pl.when(t.is_in([0, 8])).then(has("t_icmpid") & has("t_seq"))
            .when(t == 12).then(has("t_param"))
            .otherwise(  # (a redirect's GATEWAY= and header are not required: the fleet
                # generator, synth/fleet.py, writes redirects without them)
                (~err4 | (t == 5) | c._brk)
                & (~((t == 3) & (c.icmp_code == 4)) | has("t_mtu"))))
        .otherwise(
            pl.when(t.is_in([128, 129])).then(has("t_icmpid") & has("t_seq"))
            .otherwise(  # (the bracketed header of an ICMPv6 error is not required: the
                # fleet generator, synth/fleet.py, writes ICMPv6 errors without it)
                ((t != 4) | has("t_pointer"))
                & ((t != 2) | has("t_mtu"))))
    )
    tail = (
        pl.when(skip).then(pl.lit(True))
        .when(proto == "TCP").then(has("t_urgp"))
        .when(proto.is_in(["UDP", "UDPLITE"])).then(has("t_l4len"))
        .when(proto.is_in(["ICMP", "ICMPv6"])).then(icmp_tail.fill_null(False))
        .when(proto.is_in(["AH", "ESP"]) & ~v6).then(has("t_spi"))
        .otherwise(pl.lit(True))
    )
    # the last token: "OPT", "(" or "(0204" without its ")" is an option list cut short, and
    # "KEY=" or "KEY=0x" a value cut short
    last = c._last
    val = _x(last, r"=([^\]]*)\]?$")
    dangling = ((last == "OPT") | (last.str.starts_with("(") & ~last.str.ends_with(")"))
                | val.is_in(["", "0x"]))
    # Where the log keeps the kernel's trailing space (most netfilter lines of the block end with
    # one), a line without it was cut. (Where a syslog daemon strips it, a cut inside the last
    # value cannot be told from a whole line.)
    if spaced is None:
        nf = df.get_column("_has_body")
        spaced = int((df.get_column("_tail_sp") & nf).sum()) * 2 > int(nf.sum())
    maybe_cut = pl.lit(spaced) & ~c._tail_sp & c._has_body
    uid_gid = has("t_uid") & ~has("t_gid")  # "UID=%u GID=%u " come together
    return (~tail | uid_gid | c._unbal | dangling | maybe_cut).fill_null(False)


def _typed(df: pl.DataFrame, ctx: ParseContext, _kernel: Any, spaced: bool | None = None,
           years: dict | None = None) -> pl.DataFrame:
    import polars as pl
    c = pl.col
    # protocol name: upper case, except ICMPv6
    pu = c.t_proto.str.to_uppercase()
    proto = pl.when(pu == "ICMPV6").then(pl.lit("ICMPv6")).otherwise(pu)
    # addresses
    df = _address(df, "t_src", "src", _kernel)
    df = _address(df, "t_dst", "dst", _kernel)
    df = _address(df, "t_isrc", "inner_src", _kernel)
    df = _address(df, "t_idst", "inner_dst", _kernel)
    # MAC: 14 bytes → dst, src, ethertype
    mac = c.t_mac.str.to_lowercase()
    mac14 = mac.str.contains(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){13}$")
    # (MAC, protocol names and options repeat: read once per distinct value)
    df = by_distinct(df, "t_mac", {
        "mac_dst": pl.when(mac14).then(mac.str.slice(0, 17)),
        "mac_src": pl.when(mac14).then(mac.str.slice(18, 17)),
        "ethertype": pl.when(mac14).then(_hex(mac.str.slice(36, 2) + mac.str.slice(39, 2))),
        "mac": pl.when(~mac14 & (c.t_mac != "")).then(c.t_mac)})
    df = by_distinct(df, "t_proto", {"proto": proto})
    df = by_distinct(df, "t_iproto", {
        "inner_proto": pl.when(c.t_iproto.str.to_uppercase() == "ICMPV6").then(pl.lit("ICMPv6"))
        .otherwise(c.t_iproto.str.to_uppercase())})
    df = by_distinct(df, "t_ipopt", {"ip_opt": c.t_ipopt.str.replace_all(" ", "", literal=True)})
    df = by_distinct(df, "t_tcpopt", {"tcp_opt": c.t_tcpopt.str.replace_all(" ", "", literal=True)})
    df = df.with_columns(
        in_iface=pl.when(c.t_in != "").then(c.t_in),
        out_iface=pl.when(c.t_out != "").then(c.t_out),
        physin=pl.when(c.t_physin != "").then(c.t_physin),
        physout=pl.when(c.t_physout != "").then(c.t_physout),
        uptime=c.t_uptime.cast(pl.Float64, strict=False),
    )
    # numbers: SEQ=/ACK= are TCP's with --log-tcp-sequence, ICMP's SEQ= is the echo sequence
    is_tcp = c.proto == "TCP"
    is_icmp = c.proto.is_in(["ICMP", "ICMPv6"])
    derived = {"t_tseq": ("t_seq", is_tcp), "t_tack": ("t_ack", is_tcp),
               "t_iseq": ("t_seq", is_icmp), "t_icmpid": ("t_icmpid", is_icmp)}
    df = df.with_columns(
        [pl.when(cond).then(pl.col(src)).alias(name) for name, (src, cond) in derived.items()]
        + ([] if _kernel is None else [pl.when(cond).then(pl.col(f"v_{src}")).alias(f"v_{name}")
                                       for name, (src, cond) in derived.items()])
    )
    checks = _num_checks()
    if _kernel is None:  # numbers as the kernel prints them (see parse_kernel.integers)
        df = df.with_columns([
            pl.when(pl.col(tcol).str.contains(_HEX_RE if hexa else _DEC_RE))
            .then((_hex if hexa else _dec)(pl.col(tcol))).alias(col)
            for col, tcol, hexa, _, _ in checks])
    else:  # the same values, decoded by the compiled kernel straight from the line bytes
        df = df.with_columns([pl.col(f"v_{tcol}").alias(col) for col, tcol, _, _, _ in checks])
    bad_exprs = []
    aux_exprs = []
    for col, tcol, _, mx, reason in checks:
        bad = pl.col(tcol).is_not_null() & (pl.col(col).is_null() | (pl.col(col) < 0) | (pl.col(col) > mx))
        if reason == "aux":
            aux_exprs.append((col, bad))
        else:
            bad_exprs.append((bad, reason))
    # IPv4's total length is 16 bits (IPv6's LEN= adds the 40-byte header to a 16-bit length)
    bad_exprs.append(((c._fam_src == 4) & (c.len > 65535), "bad value"))
    bad_num = pl.lit(None, pl.String)
    for bad, reason in reversed(bad_exprs):
        bad_num = pl.when(bad).then(pl.lit(reason)).otherwise(bad_num)
    # an auxiliary field that is not what the kernel prints: null, and a warning
    df = df.with_columns(
        [bad.alias(f"_warn_{col}") for col, bad in aux_exprs]
        + [pl.when(~bad).then(pl.col(col)).alias(col) for col, bad in aux_exprs]
    )
    # PROTO=: a name nf_log prints, else a decimal number 0-255 without sign or leading zero
    pu = c.t_proto.str.to_uppercase()
    proto_ok = pu.is_in(list(PROTO_NAMES)) | (
        pu.str.contains(r"^(?:0|[1-9][0-9]{0,2})$") & (_dec(pu) <= 255))
    # ACK as a word is a flag; ACK=<n> only with --log-tcp-sequence
    flags = c.t_flags.str.strip_chars()
    fam = c._fam_src
    df = df.with_columns(
        _bad_num=bad_num,
        _bad_proto=c.t_proto.is_not_null() & ~proto_ok,
        family=fam,
        tos=pl.when(fam == 6).then(c._tc).otherwise(c._tos4),
        ttl=pl.when(fam == 6).then(c._hop).otherwise(c._ttl4),
        ip_id=pl.coalesce(c._id4, c._id6),
        tcp_flags=pl.when(c.proto == "TCP").then(flags),
    )
    df = df.with_columns(_cut=_cut_tail(df, spaced))
    keep = {"t_src", "t_dst", "t_proto"}  # (read by _reasons)
    df = df.drop([n for n in df.columns if n.startswith("t_") and n not in keep])
    df = _times(df, ctx, years)
    df = _epoch_and_range(df)
    host = pl.coalesce(pl.when(c._json).then(c._jh).otherwise(c._host), pl.lit(ctx.sensor))
    df = df.with_columns(
        prefix=pl.when(c._prefix != "").then(c._prefix),
        action=actions(df.get_column("_prefix")),
        host=host,
    )
    return df


def _epoch_and_range(df: pl.DataFrame) -> pl.DataFrame:
    """The time of epoch-stamped lines (DShield's rsyslog template), and ``bad timestamp`` for a
    time outside :data:`YEARS` (no log line is from year 1 or 9999; such a time breaks analyses)."""
    import polars as pl
    c = pl.col
    us = (c._epoch.cast(pl.Float64, strict=False) * 1_000_000).round(0).cast(pl.Int64)
    t_epoch = us.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    df = df.with_columns(time=pl.when(c._epoch.is_not_null()).then(t_epoch).otherwise(c.time))
    year = c.time.dt.year()
    out = c.time.is_not_null() & ((year < YEARS[0]) | (year > YEARS[1]))
    return df.with_columns(
        time=pl.when(out).then(pl.lit(None, pl.Datetime("us", "UTC")))
        .otherwise(c.time),
        _bad_time=c._bad_time | out,
    )


def _times(df: pl.DataFrame, ctx: ParseContext, years: dict | None = None) -> pl.DataFrame:
    """Times of the lines of ``df``. ``years`` (with ``--year``, where :mod:`parse_fast` parsed the
    block's other lines): those lines' RFC 3164 stamps ("lines": their numbers, "codes" into
    "names": their sensors, "pos": their positions; "own": the numbers of ``df``'s lines) take
    part in the unwrapping, in line order; their year offsets are put in ``years["yoff"]``."""
    import polars as pl
    c = pl.col
    ts = c._ts
    is3164 = ts.str.contains(r"^[A-Z]")
    df = df.with_columns(_b=pl.when(is3164).then(ts.str.replace("  ", " ", literal=True)))
    mon, day, secs = _bsd_parts(c._b)
    df = df.with_columns(_mon=mon, _day=day, _secs=secs)
    if ctx.year is not None:
        # Per sensor, each stamp takes the year that puts it nearest to the sensor's previous
        # stamp (phase unwrapping, vectorised: a step back of more than half a year is the next
        # year, a step forward of more than half a year a late line of the year before, anything
        # less is reordering); carried between blocks (parsed in order) by sensor in ctx.state.
        st = ctx.state.setdefault("bsd_sensor_years", {})  # sensor → (last position, year offset)
        before = dict(zip(range(1, 13), (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334),
                          strict=True))
        pos = (c._mon.replace_strict(before, default=None, return_dtype=pl.Int64) + c._day - 1
               ) * 86400 + c._secs
        sub = df.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("_r"),
                        c._host.fill_null("").alias("_sk"), pos.alias("_pos")
                        ).filter(c._pos.is_not_null())
        if years is not None:
            years["yoff"] = np.zeros(len(years["pos"]), np.int64)
            given = pl.DataFrame({
                "_r": pl.Series(-1 - np.arange(len(years["pos"]), dtype=np.int64), dtype=pl.Int64),
                "_sk": pl.Series(years["names"], dtype=pl.String).gather(
                    years["codes"].astype(np.int64)),
                "_pos": pl.Series(years["pos"], dtype=pl.Int64),
                "_ln": pl.Series(years["lines"].astype(np.int64), dtype=pl.Int64)})
            sub = sub.with_columns(c._pos.cast(pl.Int64), pl.Series(
                "_ln", np.asarray(years["own"], np.int64))
                .gather(sub.get_column("_r")).cast(pl.Int64))
            sub = pl.concat([sub, given]).sort("_ln").drop("_ln")
        yoff = np.zeros(df.height, dtype=np.int64)
        if sub.height:  # (the rule, in line order, is parse_fast.unwrap's: one for both paths)
            names, codes = np.unique(sub.get_column("_sk").to_numpy(), return_inverse=True)
            off = parse_fast.unwrap(codes, sub.get_column("_pos").to_numpy(), names.tolist(), st)
            r = sub.get_column("_r").to_numpy()
            own = r >= 0
            yoff[r[own]] = off[own]
            if years is not None:
                years["yoff"][-1 - r[~own]] = off[~own]
        df = df.with_columns(_yoff=pl.Series("_yoff", yoff))
        year = pl.lit(int(ctx.year)) + c._yoff
    else:
        ry, rkey = ref_key(ctx.reference_time, ctx.tz)
        key = c._mon * 100_000_000 + c._day * 1_000_000 + c._secs
        year = pl.when(key <= rkey).then(pl.lit(ry)).otherwise(pl.lit(ry - 1))
        # Feb 29 in a non-leap year: the latest leap year before
        df = df.with_columns(_year=year.cast(pl.Int64))
        feb29 = (c._mon == 2) & (c._day == 29)
        for _ in range(7):
            df = df.with_columns(
                _year=pl.when(feb29 & ~_leap(c._year)).then(c._year - 1).otherwise(c._year))
        year = c._year
    df = df.with_columns(_year=year.cast(pl.Int64))
    valid = (
        c._mon.is_not_null() & c._day.is_between(1, 31) & c._secs.is_between(0, 86399)
        & (c._day <= _month_len(c._year, c._mon))
    )
    naive = (_days_from_civil(c._year, c._mon, c._day) * 86400 + c._secs) * 1_000_000
    t3164 = to_utc(pl.when(valid).then(naive), ctx.tz)
    # RFC3339 / ISO 8601
    iso = pl.when(~is3164).then(ts.str.replace(" ", "T", literal=True))
    has_off = iso.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$")
    aware = iso.str.strptime(pl.Datetime("us", "UTC"), "%Y-%m-%dT%H:%M:%S%.f%#z", strict=False)
    naive_iso = iso.str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S%.f", strict=False)
    t3339 = pl.when(has_off).then(aware).otherwise(
        to_utc(naive_iso.cast(pl.Int64), ctx.tz))
    jt = _dec(c._jt)
    tjson = pl.when(jt.is_between(0, 253402300799999999)).then(jt).cast(
        pl.Datetime("us")).dt.replace_time_zone("UTC")
    df = df.with_columns(
        time=pl.when(c._json).then(tjson).when(is3164).then(t3164).otherwise(t3339),
    )
    return df.with_columns(
        _bad_time=(c._ts.is_not_null() | (c._json & c._has_body)) & c.time.is_null()
    )


def _reasons(df: pl.DataFrame) -> pl.DataFrame:
    import polars as pl
    c = pl.col
    port_proto = c.proto.is_in(PORT_PROTOS)
    frag_off = c.frag.fill_null(0) > 0
    missing_port = (
        port_proto & ~frag_off & ~c._incomplete & (c.spt.is_null() | c.dpt.is_null())
    )
    fam_mismatch = c._fam_src.is_not_null() & c._fam_dst.is_not_null() & (
        c._fam_src != c._fam_dst)
    reason = (
        pl.when(c._blank).then(pl.lit("blank line"))
        .when(c._long).then(pl.lit("line too long"))
        .when(~c._has_body | ~c._looks_nf).then(pl.lit("not a netfilter line"))
        .when(c.t_src.is_null() | c.t_dst.is_null() | c.t_proto.is_null() | (c.proto == "")
              | c._cut)
        .then(pl.lit("truncated"))
        .when(c._bad_time | c._bad_frame).then(pl.lit("bad timestamp"))
        .when(c._bad_src | c._bad_dst | c._bad_inner_src | c._bad_inner_dst | fam_mismatch)
        .then(pl.lit("bad address"))
        .when(c._bad_num.is_not_null()).then(c._bad_num)
        .when(c._bad_proto).then(pl.lit("bad value"))
        .when(c._dup).then(pl.lit("conflicting values"))
        .when(missing_port).then(pl.lit("missing port"))
        .when((c.proto == "TCP") & ~frag_off & ~c._incomplete
              & (c.window.is_null() | c.res.is_null())).then(pl.lit("truncated"))
    )
    return df.with_columns(_reason=reason)


def _rows(df: pl.DataFrame, ctx: ParseContext) -> pa.Table:
    import polars as pl
    types: dict[str, pl.DataType] = {
        "uint8": pl.UInt8(), "uint16": pl.UInt16(), "uint32": pl.UInt32(), "float64": pl.Float64(),
        "string": pl.String(), "bool": pl.Boolean(),
    }
    c = pl.col
    ok = df
    present = set(ok.columns)
    exprs = []
    for f in schema.SCHEMA:
        name = f.name
        if name == "source":
            exprs.append(pl.lit(ctx.source, pl.String).alias("source"))
        elif name == "line":
            exprs.append(c._line.alias("line"))
        elif name == "time":
            exprs.append(c.time.alias("time"))
        elif name in present:
            t = str(f.type)
            dtype = types.get(t)
            e = pl.col(name)
            exprs.append(e.cast(dtype, strict=False).alias(name) if dtype is not None else e)
    out = ok.select([*exprs, c._reason]).filter(c._reason.is_null()).drop("_reason").to_arrow()
    return schema.conform(out)


def _rejects(df: pl.DataFrame, ctx: ParseContext) -> pa.Table:
    import polars as pl
    c = pl.col
    cols = ["raw", "_reason", "_line", *(k for k in ("host", "time") if k in df.columns)]
    bad = df.select(cols).filter(c._reason.is_not_null())
    txt = c.raw.fill_null("").str.head(MAX_REJECT_TEXT)
    txt = pl.when(txt.str.len_bytes() > MAX_REJECT_TEXT).then(
        txt.str.head(MAX_REJECT_TEXT // 4)).otherwise(txt)
    out = bad.select(
        pl.lit(ctx.source, pl.String).alias("source"),
        c._line.alias("line"),
        c._reason.alias("reason"),
        txt.alias("text"),
        (c.host if "host" in bad.columns else pl.lit(ctx.sensor, pl.String)).alias("host"),
        (c.time if "time" in bad.columns else pl.lit(None)).cast(pl.Datetime("us", "UTC"))
        .alias("time"),
    ).to_arrow()
    return out.cast(schema.REJECT_SCHEMA)


def parse_lines(
    lines: list[str] | pa.Array, ctx: ParseContext | None = None, first_line: int = 1, **kw: Any
) -> ParseResult:
    """Convenience for tests and notebooks: parse a list of lines with a default context."""
    if ctx is None:
        from datetime import UTC

        ctx = ParseContext(source=kw.pop("source", "-"),
                           reference_time=kw.pop("reference_time", datetime.now(UTC)), **kw)
    arr = lines if isinstance(lines, pa.Array) else pa.array(lines, pa.string())
    return parse_block(arr, first_line, ctx)
