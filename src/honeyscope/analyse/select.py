"""The one selection of packets every command, export, the report and the API take.

``--from/--to`` (UTC dates, or RFC 3339 times), ``--sensors a,b``, ``--src CIDR[,CIDR]``,
``--proto P[,P]`` and ``--port N[,N]`` are parsed into a :class:`Selection` and applied by
:func:`apply`, an Ibis filter of the packet table: it runs on DuckDB and Spark alike, before any
analysis. Rules:

* ``--from`` is inclusive; ``--to`` a date takes that whole UTC day, ``--to`` a time is inclusive.
  A time needs its zone (``Z`` or ``+hh:mm``): a bare wall clock would be read in whatever zone.
  ``--from`` after ``--to`` is a usage error (:class:`ValueError`, exit 2).
* Once a time bound is given, rows without a wall clock (dmesg lines: an uptime only) are out.
* ``--sensors`` naming a sensor the data does not have, and a selection that leaves no packet, are
  errors (:class:`SelectionError`, exit 1) that say what the data has.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir

#: Protocol names the kernel's LOG target prints (``PROTO=``), in lower case; numbers 0-255 too.
KNOWN_PROTOS = ("tcp", "udp", "udplite", "sctp", "dccp", "icmp", "icmpv6", "ah", "esp", "gre")
#: IP protocol numbers of the names the kernel prints (``PROTO=``); other numbers stay numbers.
PROTO_NUMBERS = {"1": "icmp", "6": "tcp", "17": "udp", "33": "dccp", "47": "gre", "50": "esp", "51": "ah",
                 "58": "icmpv6", "132": "sctp", "136": "udplite"}


class SelectionError(RuntimeError):
    """The selection names what the data does not have, or leaves no packet (exit 1)."""


@dataclass(frozen=True)
class Selection:
    """Which packets an analysis sees. Every field ``None``: all of them."""

    start: datetime | None = None  # inclusive, UTC
    end: datetime | None = None  # exclusive, UTC (a --to date is the next midnight)
    sensors: tuple[str, ...] | None = None
    src: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None = None
    proto: tuple[str, ...] | None = None  # lower case, as the kernel names them (or a number)
    port: tuple[int, ...] | None = None  # destination ports

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.start, self.end, self.sensors, self.src, self.proto,
                                           self.port))

    def describe(self) -> str:
        """The selection in words, for messages (``from 2013-04-01 to 2013-04-30, sensors a, b``)."""
        parts = []
        if self.start is not None:
            parts.append(f"from {_stamp(self.start)}")
        if self.end is not None:  # shown as given: the last day, or the last instant, inclusive
            last = self.end - (timedelta(days=1) if self.end.time() == time(0) else timedelta(microseconds=1))
            parts.append(f"to {_stamp(last)}")
        if self.sensors:
            parts.append("sensors " + ", ".join(self.sensors))
        if self.src:
            parts.append("sources in " + ", ".join(map(str, self.src)))
        if self.proto:
            parts.append("protocol " + ", ".join(self.proto))
        if self.port:
            parts.append("port " + ", ".join(map(str, self.port)))
        return ", ".join(parts) or "all packets"


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%d") if t.time() == time(0) else t.isoformat().replace("+00:00", "Z")


# --- parsing: one parser per option, shared by the CLI (argparse types) and the API ------------


def parse_time(text: str | date | datetime, *, end: bool = False) -> datetime:
    """A UTC instant from a date (``2013-04-01``) or an RFC 3339 time (``2013-04-01T06:00:00Z``).

    With ``end``, a date means the end of that day (the next midnight, exclusive) and a time the
    instant itself, inclusive (one microsecond is added: the bound stays exclusive)."""
    if isinstance(text, datetime):
        t = text
    elif isinstance(text, date):
        t = datetime(text.year, text.month, text.day, tzinfo=UTC)
        return t + timedelta(days=1) if end else t
    else:
        s = text.strip()
        if len(s) == 10:
            try:
                return parse_time(date.fromisoformat(s), end=end)
            except ValueError:
                raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or an RFC 3339 time") from None
        try:
            t = datetime.fromisoformat(s.replace("z", "Z").replace(" ", "T", 1))
        except ValueError:
            raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or an RFC 3339 time") from None
    if t.tzinfo is None:
        raise ValueError(f"{text!s} has no zone: add Z (UTC) or an offset such as +02:00")
    t = t.astimezone(UTC)
    return t + timedelta(microseconds=1) if end else t


def parse_sensors(value: str | Iterable[str]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(dict.fromkeys(s.strip() for s in items if s and s.strip()))
    if not names:
        raise ValueError("--sensors wants one or more names, comma-separated")
    return names


def parse_src(value: str | Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    nets = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"--src {item!r} is not an address or a CIDR block (10.0.0.0/8)") from None
    if not nets:
        raise ValueError("--src wants an address or a CIDR block")
    return tuple(nets)


def parse_proto(value: str | Iterable[str]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in (str(i).strip().lower() for i in items):
        if not item:
            continue
        item = PROTO_NUMBERS.get(item, item)
        if item not in KNOWN_PROTOS and not (item.isdigit() and int(item) <= 255):
            raise ValueError(f"unknown protocol {item!r}: use {', '.join(KNOWN_PROTOS)} or a number 0-255")
        out.append(item)
    if not out:
        raise ValueError("--proto wants a protocol name or number")
    return tuple(dict.fromkeys(out))


def parse_port(value: str | int | Iterable[str | int]) -> tuple[int, ...]:
    items = str(value).split(",") if isinstance(value, str | int) else list(value)
    out = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        if not item.isdigit() or int(item) > 65535:
            raise ValueError(f"--port {item!r} is not a port number 0-65535")
        out.append(int(item))
    if not out:
        raise ValueError("--port wants a port number")
    return tuple(dict.fromkeys(out))


def selection(
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    sensors: str | Sequence[str] | None = None,
    src: str | Sequence[str] | None = None,
    proto: str | Sequence[str] | None = None,
    port: int | str | Sequence[int | str] | None = None,
) -> Selection:
    """A :class:`Selection` from the options as given (CLI text or Python values); checks them."""
    sel = Selection(
        start=None if start is None else parse_time(start),
        end=None if end is None else parse_time(end, end=True),
        sensors=None if sensors is None else parse_sensors(sensors),
        src=None if src is None else parse_src(src),
        proto=None if proto is None else parse_proto(proto),
        port=None if port is None else parse_port(port),
    )
    if sel.start is not None and sel.end is not None and sel.start >= sel.end:
        raise ValueError(f"--from {start} is after --to {end}")
    return sel


# --- applying ------------------------------------------------------------------------------------


def filter_table(t: ir.Table, sel: Selection) -> ir.Table:
    """``t`` restricted to ``sel``: pure Ibis, no query run (v6 ``--src`` blocks aside: see
    :func:`_src_predicate`)."""
    if sel.start is not None or sel.end is not None:
        t = t.filter(t.time.notnull())
    if sel.start is not None:
        t = t.filter(t.time >= ibis.timestamp(sel.start))
    if sel.end is not None:
        t = t.filter(t.time < ibis.timestamp(sel.end))
    if sel.sensors:
        t = t.filter(t.host.isin(list(sel.sensors)))
    if sel.proto:
        # a protocol the kernel names is matched by name and by number, a number by both too
        numbers = {v: k for k, v in PROTO_NUMBERS.items()}
        both = {p for q in sel.proto for p in (q, numbers.get(q, q))}
        t = t.filter(t.proto.lower().isin(sorted(both)))
    if sel.port:
        t = t.filter(t.dpt.cast("int32").isin(list(sel.port)))
    if sel.src:
        t = t.filter(_src_predicate(t, sel.src))
    return t


def _src_predicate(t: ir.Table, nets: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]):
    """Sources inside any of ``nets``: an IPv4 block is a range of ``src_int``; an IPv6 block is
    matched on the distinct IPv6 sources of the table (looked up once, in Python)."""
    conds = []
    v4 = [n for n in nets if n.version == 4]
    v6 = [n for n in nets if n.version == 6]
    for n in v4:
        lo, hi = int(n.network_address), int(n.broadcast_address)
        src = t.src_int.cast("int64")
        conds.append((src >= lo) & (src <= hi))
    if v6:
        addrs = t.filter(t.family == 6).select("src").distinct().execute()["src"].dropna()
        inside = [a for a in addrs if any(ipaddress.ip_address(a) in n for n in v6)]
        conds.append(t.src.isin(inside) if inside else ibis.literal(False))
    out = conds[0]
    for c in conds[1:]:
        out = out | c
    return out.fill_null(False)


def apply(t: ir.Table, sel: Selection | None, *, require_rows: bool = True) -> ir.Table:
    """``t`` restricted to ``sel``, checked: an unknown sensor, or no packet left (with
    ``require_rows``), is a :class:`SelectionError` saying what the data has."""
    sel = sel or Selection()
    if sel.sensors:
        have = sorted(h for h in t.select("host").distinct().execute()["host"].dropna())
        unknown = [s for s in sel.sensors if s not in have]
        if unknown:
            raise SelectionError(
                f"no sensor {', '.join(unknown)} in the data; it has {_names(have)}")
    out = filter_table(t, sel)
    if require_rows and int(out.count().execute()) == 0:
        raise SelectionError(_empty_message(t, sel))
    return out


def _names(have: Sequence[str], limit: int = 20) -> str:
    if not have:
        return "no sensor"
    shown = ", ".join(have[:limit])
    return shown + (f" and {len(have) - limit} more" if len(have) > limit else "")


def _empty_message(t: ir.Table, sel: Selection) -> str:
    stats = t.aggregate(n=t.count(), first=t.time.min(), last=t.time.max()).execute().iloc[0]
    if not sel:
        return "no packets in the source"
    hosts = sorted(h for h in t.select("host").distinct().execute()["host"].dropna())
    if not int(stats["n"]):
        return "no packets in the source"
    span = ""
    if stats["first"] is not None and str(stats["first"]) != "NaT":
        span = f" from {stats['first']:%Y-%m-%dT%H:%M:%S}Z to {stats['last']:%Y-%m-%dT%H:%M:%S}Z"
    return (f"no packets match {sel.describe()}; the data has {int(stats['n']):,} packets{span}, "
            f"sensors {_names(hosts)}")
