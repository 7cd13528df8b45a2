"""Offline enrichment: country and ASN of every source, from a range table shipped with the package.

The tables in ``honeyscope/data/geo/`` are built by ``scripts/build_geo_table.py`` from Debian's
``libloc-database`` (IPFire location database, CC BY-SA 4.0): no account, no download at run time.
:func:`geo_meta` gives the database's name and build date, for the store and the report.

A look-up is a range join (``start_int <= ip <= end_int``) written so that it runs on any Ibis
backend, the distributed one included, which has no range join: the ranges are *bucketed* (each range
is repeated once for every /16 bucket it touches, see :func:`bucketed_ranges`), the addresses are
equi-joined on their bucket, and the range condition filters the candidates. It is run on the
*distinct* addresses only, and the result joined back, so a million packets cost what their sources cost.

IPv6 addresses are keyed by their top 48 bits (every network of the database is a /48 or shorter),
bucketed by /24; the key of a distinct IPv6 address is computed on the client (few addresses).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from honeyscope.analyse.engine import backend, memtable
from honeyscope.geo import countries, geo_dir, geo_meta, range_table  # noqa: F401  (re-exported)

#: bits dropped from the key to make the bucket: /16 buckets for IPv4, /24 for IPv6 (48-bit keys)
BUCKET_SHIFT = {4: 16, 6: 24}
#: names of the flag bits in the ``flags`` column
FLAG_BITS = {1: "anonymous-proxy", 2: "satellite", 4: "anycast", 8: "drop-list"}

GEO_COLUMNS = ("cc", "country", "asn", "as_name", "geo_flags")


def bucketed_ranges(ranges: pa.Table, shift: int) -> pa.Table:
    """``ranges`` with a ``bucket`` column, each range repeated for every bucket it overlaps.

    ``start_int``/``end_int`` become int64 (every engine has it; uint32 and 48-bit keys fit).
    """
    start = ranges.column("start_int").to_numpy().astype(np.int64)
    end = ranges.column("end_int").to_numpy().astype(np.int64)
    b0, b1 = start >> shift, end >> shift
    counts = (b1 - b0 + 1).astype(np.int64)
    idx = np.repeat(np.arange(len(start)), counts)
    # offset of each repeated row within its range: 0, 1, ..., counts-1
    first = np.repeat(np.cumsum(counts) - counts, counts)
    bucket = b0[idx] + (np.arange(len(idx)) - first)
    out = ranges.take(pa.array(idx))
    out = out.set_column(0, "start_int", pa.array(start[idx]))
    out = out.set_column(1, "end_int", pa.array(end[idx]))
    return out.append_column("bucket", pa.array(bucket, pa.int64()))


def _bucketed(family: int) -> pa.Table:
    return bucketed_ranges(range_table(family), BUCKET_SHIFT[family])


def _bucketed4() -> pa.Table:
    return _bucketed(4)


def _bucketed6() -> pa.Table:
    return _bucketed(6)


def _geo_table(con: ibis.BaseBackend, family: int) -> ibis.Table:
    """The bucketed range table of ``family``, as an Ibis in-memory table that the backend
    registers on first use (built once per process, fit for the engine)."""
    return memtable(con, _bucketed4 if family == 4 else _bucketed6)


def _countries(con: ibis.BaseBackend) -> ibis.Table:
    return memtable(con, countries)


def range_lookup(keys: ibis.Table, ranges: ibis.Table, *, key: str = "key", shift: int) -> ibis.Table:
    """For each row of ``keys`` (a column ``key``: int64 address key), the attributes of the range
    holding it (left join: no range → nulls). Bucket equi-join, then the range filter: runs on
    DuckDB and on Spark alike."""
    k = keys.mutate(_bucket=keys[key].cast("int64") >> shift, _key=keys[key].cast("int64"))
    r = ranges.select(
        _rb=ranges.bucket, _rs=ranges.start_int, _re=ranges.end_int,
        _cc=ranges.cc, _asn=ranges.asn, _as_name=ranges.as_name, _flags=ranges.flags,
    )
    u = k.select("_bucket", "_key").distinct()  # several addresses may share a key (IPv6 /48)
    hit = u.join(r, (u._bucket == r._rb) & (u._key >= r._rs) & (u._key <= r._re), how="inner")
    hit = hit.select(
        _hk=hit._key, cc=hit._cc, asn=hit._asn, as_name=hit._as_name, geo_flags=hit._flags
    )
    out = k.left_join(hit, k._key == hit._hk)
    return out.drop("_bucket", "_key", "_hk")


def v6_key(addr: str) -> int | None:
    """Top 48 bits of an IPv6 address (the v6 range key), None when not IPv6."""
    try:
        a = ipaddress.ip_address(addr)
    except ValueError:
        return None
    return int(a) >> 80 if a.version == 6 else None


def v6_keys(addrs: list[str]) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """For IPv6 address texts: a mask of those that parse, their 48-bit range keys (int64) and
    their /64 prefixes as text (``2001:db8::/64``). One C call per address (``inet_pton``), the
    rest in numpy; scoped (``fe80::1%eth0``) and other odd texts fall back to :mod:`ipaddress`."""
    n = len(addrs)
    raw = bytearray(16 * n)
    ok = np.zeros(n, dtype=bool)
    for i, a in enumerate(addrs):
        try:
            raw[16 * i:16 * i + 16] = socket.inet_pton(socket.AF_INET6, a)
        except (OSError, ValueError, TypeError):
            try:
                ip = ipaddress.ip_address(a)
            except ValueError:
                continue
            if ip.version != 6:
                continue
            raw[16 * i:16 * i + 16] = ip.packed
        ok[i] = True
    b = np.frombuffer(bytes(raw), dtype=np.uint8).reshape(n, 16)
    # top 48 bits: bytes 0-5 big-endian
    key = np.zeros(n, dtype=np.int64)
    for j in range(6):
        key = (key << 8) | b[:, j].astype(np.int64)
    # /64 prefix text, formatted once per distinct prefix
    top = b[:, :8].copy()
    pre: list[str | None] = [None] * n
    if ok.any():
        uniq, inv = np.unique(top[ok], axis=0, return_inverse=True)
        texts = [
            f"{ipaddress.IPv6Address(bytes(u) + bytes(8)).compressed}/64" for u in uniq
        ]
        for i, k in zip(np.flatnonzero(ok), inv.reshape(-1), strict=True):
            pre[i] = texts[k]
    return ok, key, pre


_IPV4 = r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$"


def _ipv4_parts(t: ibis.Table, col: str = "addr") -> tuple[ir.BooleanValue, list[ir.StringValue]]:
    """Whether ``t[col]`` is a dotted quad, and its four octets as text (regex groups: portable,
    where ``split('.')`` is a regex split on Spark)."""
    is4 = t[col].re_search(_IPV4)
    return is4, [t[col].re_extract(_IPV4, i) for i in range(1, 5)]


def enrich_addresses(
    con: ibis.BaseBackend, addrs: ibis.Table, col: str = "src", *, with_net: bool = False
) -> ibis.Table:
    """Distinct addresses of ``addrs[col]`` (canonical text) with ``cc``, ``country``, ``asn``,
    ``as_name``, ``geo_flags`` from the shipped database, and with ``with_net`` also ``net``:
    the address's ``a.b.c.0/24`` (IPv4) or ``x:x:x:x::/64`` (IPv6) prefix. IPv4 keys and
    prefixes are computed in the engine; IPv6 ones on the client (their distinct set is small).
    Texts that are not addresses are left out."""
    distinct = addrs.select(addr=addrs[col]).filter(ibis._.addr.notnull()).distinct()
    # IPv4 dotted quad -> int, in the engine (portable: split + cast)
    is4, parts = _ipv4_parts(distinct)
    key4 = (
        parts[0].cast("int64") * 16777216
        + parts[1].cast("int64") * 65536
        + parts[2].cast("int64") * 256
        + parts[3].cast("int64")
    )
    v4 = distinct.filter(is4)
    v4 = v4.mutate(key=key4, **(
        {"net": parts[0].concat(".", parts[1], ".", parts[2], ".0/24")} if with_net else {}
    ))
    res4 = range_lookup(v4, _geo_table(con, 4), shift=BUCKET_SHIFT[4])
    parts_out = [res4.drop("key")]
    v6_addrs = con.to_pyarrow(distinct.filter(~is4).addr).to_pylist()
    if v6_addrs:
        ok, key, pre = v6_keys(v6_addrs)
        cols: dict[str, Any] = {
            "addr": pa.array(v6_addrs, pa.string()).filter(pa.array(ok)),
            "key": pa.array(key[ok], pa.int64()),
        }
        if with_net:
            cols["net"] = pa.array([p for p, good in zip(pre, ok, strict=True) if good], pa.string())
        if ok.any():
            k6 = ibis.memtable(pa.table(cols))
            parts_out.append(
                range_lookup(k6, _geo_table(con, 6), shift=BUCKET_SHIFT[6]).drop("key")
            )
    res = parts_out[0] if len(parts_out) == 1 else parts_out[0].union(parts_out[1])
    c = _countries(con)
    c = c.select(_ccc=c.cc, country=c.country)
    res = res.left_join(c, res.cc == c._ccc).drop("_ccc")
    out = ["addr", "cc", "country", "asn", "as_name", "geo_flags"]
    return res.select(*out, *(["net"] if with_net else []))


def enrich_keys(con: ibis.BaseBackend, keys: pa.Array | np.ndarray) -> pa.Table:
    """IPv4 integer addresses (uint32) → cc/asn/as_name in the engine; for benchmarks and callers
    that already have integers. Returns one row per distinct key."""
    arr = pa.array(np.unique(np.asarray(keys, dtype=np.int64)), pa.int64())
    t = ibis.memtable(pa.table({"key": arr}))
    return con.to_pyarrow(range_lookup(t, _geo_table(con, 4), shift=BUCKET_SHIFT[4]))


def source_geo(packets: ibis.Table, col: str = "src") -> ibis.Table:
    """The distinct sources of ``packets`` with their geo and prefix (``addr``, ``cc``,
    ``country``, ``asn``, ``as_name``, ``geo_flags``, ``net``): one look-up that a report can
    materialise once (``.cache()``) and hand to :func:`sources` and
    :func:`honeyscope.analyse.fleet.source_prefixes`."""
    con = backend(packets)
    return enrich_addresses(con, packets, col, with_net=True)


def _mode(t: ibis.Table, key: str, col: str, weight: str | None = None) -> ibis.Table:
    """Per ``key``: the most frequent non-null ``col`` (ties: the smallest), as ``key``, ``col``;
    ``weight``: a column of row counts when ``t`` is already aggregated. Plain counts and joins,
    so it runs where there is no ``mode`` aggregate (Spark), with the same answer everywhere."""
    c = t.filter(t[col].notnull()).group_by([key, col]).aggregate(
        _n=ibis._[weight].sum() if weight else ibis._.count()
    )
    top = c.group_by(key).aggregate(_top=ibis._._n.max()).rename(_k=key)
    c = c.join(top, (c[key] == top._k) & (c._n == top._top))
    return c.group_by(key).aggregate(**{col: c[col].min()})


def sources(packets: ibis.Table, geo: ibis.Table | None = None) -> ibis.Table:
    """One row per source address: packets, sensors, first/last seen, database geo (``cc``,
    ``country``, ``asn``, ``as_name``, ``geo_flags``) and the geo the input carried (``input_cc``,
    ``input_country``: the marx-geo CSV's MaxMind 2014 columns; null when absent).
    ``geo``: a :func:`source_geo` (or :func:`enrich_addresses`) result of the same packets to reuse."""
    con = backend(packets)
    # one pass over the packets: per source, sensor and input geo; the rest reads these rows
    g = packets.group_by(["src", "host", "geo_cc", "geo_country"]).aggregate(
        n=ibis._.count(), first=ibis._.time.min(), last=ibis._.time.max()
    )
    per = g.group_by(addr=g.src).aggregate(
        packets=ibis._.n.sum(),
        sensors=ibis._.host.nunique(),
        first_seen=ibis._.first.min(),
        last_seen=ibis._.last.max(),
    )
    for name, col in (("input_cc", "geo_cc"), ("input_country", "geo_country")):
        m = _mode(g, "src", col, weight="n").rename(_maddr="src", **{name: col})
        per = per.left_join(m, per.addr == m._maddr).drop("_maddr")
    if geo is None:
        geo = enrich_addresses(con, packets, "src")
    geo = geo.select("cc", "country", "asn", "as_name", "geo_flags", _addr="addr")
    j = per.left_join(geo, per.addr == geo._addr).drop("_addr")
    return j


#: the AS name shown when the database has none
UNKNOWN = "unknown"


def _known(v: ir.StringValue) -> ir.BooleanValue:
    return v.notnull() & (v != "")


def _origin_rows(s: ibis.Table) -> ibis.Table:
    """:func:`sources` rows with ``cc_used``/``country_used`` (the input's own country when it
    carries one, else the database's; the code when the name is unknown) and ``_total``, the
    packets of all rows."""
    use_input = _known(s.input_cc)
    s = s.mutate(
        cc_used=ibis.cases((use_input, s.input_cc), else_=s.cc),
        _cname=ibis.cases((use_input, s.input_country), else_=s.country),
        _total=s.packets.sum().over(),
    )
    return s.mutate(country_used=ibis.cases((_known(s._cname), s._cname), else_=s.cc_used))


def by_country(s: ibis.Table) -> ibis.Table:
    """Countries by packets from :func:`sources` rows ``s``: ``cc``, ``country``, ``sources``,
    ``packets``, ``share`` (of all packets). A source's country is the input's own (``input_cc``,
    contemporaneous with the traffic) when it carries one, else the database's; sources with no
    country are not ranked (see :func:`origin_unknown`)."""
    o = _origin_rows(s)
    o = o.filter(_known(o.cc_used))
    g = o.group_by(cc=o.cc_used, country=o.country_used).aggregate(
        sources=o.count(), packets=o.packets.sum(), _total=o._total.max())
    return g.mutate(share=g.packets / g._total).drop("_total").order_by(
        [ibis.desc("packets"), "cc"])


def by_asn(s: ibis.Table) -> ibis.Table:
    """Autonomous systems by packets from :func:`sources` rows ``s``: ``asn``, ``as_name``
    (:data:`UNKNOWN` when the database has none), ``sources``, ``packets``, ``cc`` (the most
    common database country of its sources, ties: the smallest code; :data:`UNKNOWN` when none)
    and ``share`` (of all packets). Sources with no ASN are not ranked."""
    o = _origin_rows(s)
    o = o.filter(o.asn.notnull())
    o = o.mutate(asn=o.asn.cast("int64"),
                 as_name=ibis.cases((_known(o.as_name), o.as_name), else_=ibis.literal(UNKNOWN)))
    g = o.group_by(["asn", "as_name"]).aggregate(
        sources=o.count(), packets=o.packets.sum(), _total=o._total.max())
    cc = _mode(o, "asn", "cc").rename(_casn="asn")
    j = g.left_join(cc, g.asn == cc._casn)
    return j.select(
        "asn", "as_name", "sources", "packets", cc=j.cc.fill_null(UNKNOWN),
        share=j.packets / j._total,
    ).order_by([ibis.desc("packets"), "asn"])


def origin_unknown(s: ibis.Table) -> ibis.Table:
    """One row: the sources (and their packets) of :func:`sources` rows ``s`` with no country
    (``no_cc_sources``, ``no_cc_packets``) and with no ASN (``no_asn_*``): private, bogon or
    unallocated addresses, counted once, apart from the rankings."""
    o = _origin_rows(s)
    no_cc, no_asn = ~_known(o.cc_used), o.asn.isnull()
    return o.aggregate(
        no_cc_sources=no_cc.sum(), no_cc_packets=o.packets.sum(where=no_cc),
        no_asn_sources=no_asn.sum(), no_asn_packets=o.packets.sum(where=no_asn),
    )


def origin_rollup(s: ibis.Table, by: str = "source") -> ibis.Table:
    """:func:`sources` rows ``s`` one per ``by``: ``source`` (busiest first), ``country``
    (:func:`by_country`) or ``asn`` (:func:`by_asn`)."""
    if by == "country":
        return by_country(s)
    if by == "asn":
        return by_asn(s)
    if by == "source":
        return s.order_by([ibis.desc("packets"), "addr"])
    raise ValueError(f"unknown rollup {by!r}: use source, country or asn")


def source_origin(packets: ibis.Table, geo: ibis.Table | None = None) -> ibis.Table:
    """Per distinct source (``addr``): ``cc`` and ``country`` as the input carried them (the
    marx-geo CSV's contemporaneous columns) when it did, else from the shipped database
    (``cc_from``: ``input`` or ``database``), and the database's ``asn`` and ``as_name``.
    ``geo``: a :func:`source_geo` result of the same packets, to reuse."""
    con = backend(packets)
    if geo is None:
        geo = enrich_addresses(con, packets, "src")
    # the input's country: its most frequent one per source (as :func:`sources`), per source
    # and country one pass
    p = packets.filter(packets.geo_cc.notnull() & (packets.geo_cc != ""))
    g1 = p.group_by(["src", "geo_cc"]).aggregate(n=ibis._.count(), _name=ibis._.geo_country.max())
    cc = _mode(g1, "src", "geo_cc", weight="n")
    cc = cc.join(g1, ["src", "geo_cc"]).select(_iaddr="src", _icc="geo_cc", _icountry="_name")
    g = geo.select("addr", "cc", "country", "asn", "as_name")
    j = g.left_join(cc, g.addr == cc._iaddr)
    return j.select(
        "addr",
        cc=j._icc.coalesce(j.cc),
        country=ibis.cases((j._icc.notnull(), j._icountry), else_=j.country),
        cc_from=ibis.cases((j._icc.notnull(), "input"), (j.cc.notnull(), "database"),
                           else_=ibis.null("string")),
        asn=j.asn,
        as_name=j.as_name,
    )


def enrich(packets: ibis.Table) -> ibis.Table:
    """``packets`` with ``src_cc``, ``src_country``, ``src_asn``, ``src_as_name`` added (left join
    on the distinct sources; rows keep their order only up to the engine's guarantees)."""
    con = backend(packets)
    geo = enrich_addresses(con, packets, "src")
    geo = geo.select(
        _addr=geo.addr, src_cc=geo.cc, src_country=geo.country,
        src_asn=geo.asn, src_as_name=geo.as_name,
    )
    return packets.left_join(geo, packets.src == geo._addr).drop("_addr")


def flag_names(mask: int | None) -> str:
    """``geo_flags`` bit mask as text (``anycast,drop-list``)."""
    if not mask:
        return ""
    return ",".join(name for bit, name in FLAG_BITS.items() if int(mask) & bit)
