"""Export the store's packets: the seed's own CSV layout (``marx``), or every canonical column as CSV,
JSON lines or Parquet. Streams through DuckDB: the table is never held in memory whole.

It lives in the render layer (it lays the store's table out in a format, with
:mod:`honeyscope.render.escape`'s rules): render reads the store, the store never imports render.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import ibis
import pyarrow as pa

from honeyscope import schema
from honeyscope.render.escape import FORMULA_START_PATTERN, NUMBER_PATTERN
from honeyscope.store.store import Store

FORMATS = ("marx", "csv", "parquet", "jsonl", "ecs", "dshield")

# A cell a spreadsheet would read as a formula gets a leading quote, at its start and after each line
# break inside it: render.escape.cell's rule, in SQL (RE2 has no lookahead: two passes catch "\r\r=").
_AFTER_BREAK = r"regexp_replace({c}, '([\r\n])([=+\-@\t\r])', '\1''\2', 'g')"
_BROKEN = _AFTER_BREAK.format(c=_AFTER_BREAK)  # keeps one "{c}", filled by _SAFE.format(c=...)
_SAFE = (
    f"CASE WHEN regexp_matches({{c}}, '{FORMULA_START_PATTERN}') AND NOT regexp_matches({{c}}, "
    f"'{NUMBER_PATTERN}') THEN '''' || {_BROKEN} ELSE {_BROKEN} END"
)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _select_ecs() -> str:
    """Elastic Common Schema documents with the field names Filebeat's iptables module writes
    (``source.ip``, ``destination.port``, ``network.transport``, ``iptables.*``, ``event.*``,
    ``observer.name``, ``rule.*``...). A null field is left null (Elasticsearch indexes it as absent).
    What Filebeat computes from outside the line (``network.community_id``, ``source.as.*``, geo) and
    the syslog priority (not kept in the store) are not written; ``event.action`` is honeyscope's
    action (drop, reject, accept, audit, unknown) rather than the log prefix's wording."""
    icmp = "proto IN ('ICMP', 'ICMPv6')"
    edge = r"'^\[(.+)-([^-\]]+)-[ADRadr]\]$'"
    rule_set = f"nullif(regexp_extract(prefix, {edge}, 1), '')"
    rule_no = f"nullif(regexp_extract(prefix, {edge}, 2), '')"
    zoned = f"regexp_full_match({rule_set}, '[^-]+-[^-]+')"
    zone_in = f"CASE WHEN {zoned} THEN split_part({rule_set}, '-', 1) END"
    zone_out = f"CASE WHEN {zoned} THEN split_part({rule_set}, '-', 2) END"
    frag = ("list_filter([CASE WHEN ce THEN 'CE' END, CASE WHEN df THEN 'DF' END, "
            "CASE WHEN mf THEN 'MF' END], lambda x: x IS NOT NULL)")
    cols = [
        "strftime(time, '%Y-%m-%dT%H:%M:%S.%fZ') AS \"@timestamp\"",
        "{'ip': src, 'port': spt, 'mac': upper(replace(mac_src, ':', '-'))} AS source",
        "{'ip': dst, 'port': dpt, 'mac': upper(replace(mac_dst, ':', '-'))} AS destination",
        "{'transport': CASE WHEN regexp_full_match(proto, '[0-9]+') THEN NULL WHEN proto = 'ICMPv6' "
        "THEN 'ipv6-icmp' ELSE lower(proto) END, "
        "'iana_number': CASE WHEN regexp_full_match(proto, '[0-9]+') THEN proto END, "
        "'type': CASE ethertype WHEN 2048 THEN 'ipv4' WHEN 34525 THEN 'ipv6' END} AS network",
        "{'kind': 'event', 'module': 'iptables', 'dataset': 'iptables.log', 'category': ['network'], "
        "'type': CASE WHEN action IN ('drop', 'reject') THEN ['connection', 'denied'] "
        "WHEN action = 'accept' THEN ['connection', 'allowed'] ELSE ['connection'] END, "
        "'action': action} AS event",
        f"{{'name': host, 'ingress': {{'zone': {zone_in}}}, 'egress': {{'zone': {zone_out}}}}} AS observer",
        f"{{'id': {rule_no}, 'name': {rule_set}}} AS rule",
        "{'ether_type': ethertype, "
        f"'fragment_flags': CASE WHEN len({frag}) > 0 THEN {frag} END, "
        "'id': ip_id, 'input_device': coalesce(in_iface, ''), 'output_device': coalesce(out_iface, ''), "
        "'length': \"len\", 'precedence_bits': prec, 'tos': tos, 'ttl': ttl, 'flow_label': flowlbl, "
        "'tcp': CASE WHEN proto = 'TCP' THEN {'flags': CASE WHEN tcp_flags = '' THEN [] "
        "ELSE string_split(tcp_flags, ' ') END, 'reserved_bits': res, 'window': \"window\", "
        "'seq': tcp_seq, 'ack': tcp_ack} END, "
        "'udp': CASE WHEN proto = 'UDP' THEN {'length': l4_len} END, "
        f"'icmp': CASE WHEN {icmp} THEN {{'type': icmp_type, 'code': icmp_code, 'id': icmp_id, "
        "'seq': icmp_seq} END, "
        f"'ubiquiti': CASE WHEN {rule_set} IS NOT NULL THEN {{'rule_set': {rule_set}, "
        f"'rule_number': {rule_no}, "
        f"'input_zone': {zone_in}, 'output_zone': {zone_out}}} END}} AS iptables",
        "{'file': {'path': source}} AS log",
        "{'line': line, 'prefix': prefix, 'uptime': uptime} AS honeyscope",
    ]
    return ", ".join(cols)


#: DShield's user id field for an unregistered submitter (psad's default).
DSHIELD_USERID = "0"


def _select_dshield() -> str:
    """The DShield firewall-log submission format: tab-separated date (``YYYY-MM-DD HH:MM:SS +00:00``),
    user id, count (1: one row per packet), source IP, source port, target IP, target port, protocol
    and TCP flags (letters of ``SFAPRU12``: SYN FIN ACK PSH RST URG, 1 = CWR, 2 = ECE). For ICMP the
    ports are the type and the code, as DShield's own iptables parser writes them."""
    icmp = "proto IN ('ICMP', 'ICMPv6')"
    flags = " || ".join(
        f"CASE WHEN list_contains(string_split(coalesce(tcp_flags, ''), ' '), '{name}') "
        f"THEN '{c}' ELSE '' END"
        for name, c in (("SYN", "S"), ("FIN", "F"), ("ACK", "A"), ("PSH", "P"), ("RST", "R"), ("URG", "U"),
                        ("CWR", "1"), ("ECE", "2")))
    return ", ".join([
        "strftime(time, '%Y-%m-%d %H:%M:%S') || ' +00:00' AS date",
        f"'{DSHIELD_USERID}' AS userid",
        "1 AS count",
        "src",
        f"CASE WHEN {icmp} THEN icmp_type ELSE spt END AS sport",
        "dst",
        f"CASE WHEN {icmp} THEN icmp_code ELSE dpt END AS dport",
        "upper(proto) AS proto",
        f"CASE WHEN proto = 'TCP' THEN {flags} ELSE '' END AS flags",
    ])


#: RFC 3339 UTC, the outputs' one timestamp format (``honeyscope.store.frames.format_times``):
#: whole seconds, or microseconds for every row when some row of the export has a fraction.
TIME_SECONDS = "%Y-%m-%dT%H:%M:%SZ"
TIME_MICROSECONDS = "%Y-%m-%dT%H:%M:%S.%fZ"


def _select(fmt: str, raw: bool = False, time_format: str = TIME_SECONDS) -> str:
    if fmt == "ecs":
        return _select_ecs()
    if fmt == "dshield":
        return _select_dshield()
    if fmt == "marx":
        cols = [
            "strftime(time, '%Y-%m-%d %H:%M:%S') AS datetime",
            ("host" if raw else _SAFE.format(c="host")) + " AS host",
            "src_int AS src",
            ("proto" if raw else _SAFE.format(c="proto")) + " AS proto",
            "icmp_type AS type",
            "spt",
            "dpt",
        ]
        return ", ".join(cols)
    out = []
    for name, typ, _ in schema.COLUMNS:
        if fmt in ("csv", "jsonl") and pa.types.is_timestamp(typ):
            out.append(f"strftime({_q(name)}, {_lit(time_format)}) AS {_q(name)}")
        elif fmt == "csv" and not raw and str(typ) == "string":
            out.append(_SAFE.format(c=_q(name)) + f" AS {_q(name)}")
        else:
            out.append(_q(name))
    return ", ".join(out)


def export(store: Store, fmt: str, out: str, *, start: date | None = None, end: date | None = None,
           raw: bool = False, keep: Callable[[ibis.Table], ibis.Table] | None = None) -> int:
    """Write the store's packets to ``out`` (a path, or ``-`` for stdout) in ``fmt``; returns the rows
    written.

    ``csv`` and ``jsonl`` write times as RFC 3339 UTC (``2013-03-03T21:53:59Z``; with
    microseconds on every row, ``...59.250000Z``, when some exported row has a fraction); ``marx``
    keeps the seed's layout, ``ecs`` ECS's ``@timestamp``, ``dshield`` DShield's. Text cells of
    ``csv`` and ``marx`` that a spreadsheet would run as a formula get a leading ``'``, unless
    ``raw`` (for a program that reads the CSV, not a spreadsheet).

    Rows come in input order, then line order: exporting an ingested marx CSV as ``marx`` gives back
    the same rows in the same order. ``start``/``end`` keep the UTC days from ``start`` to ``end``
    (inclusive; rows without a wall clock are then left out, as they are from ``dshield`` always).
    ``keep``: a filter of the packet table (Ibis; the CLI passes the one selection of every
    command, :func:`honeyscope.analyse.select.filter_table`), run here by DuckDB.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    if out != "-":
        target_path = Path(out)
        if target_path.is_dir():
            raise IsADirectoryError(f"{out} is a directory, not a file")
        if not target_path.parent.is_dir():
            raise FileNotFoundError(f"the directory of {out}, {target_path.parent}, does not exist")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")  # nothing but the export on stdout
    order = {str(store.path / p): n for n, i in enumerate(store.records) for p in i.parts}
    if order:
        con.execute("CREATE TEMP TABLE part_order(filename VARCHAR, n INTEGER)")
        con.executemany("INSERT INTO part_order VALUES (?, ?)", list(order.items()))
        files = "[" + ", ".join(_lit(f) for f in order) + "]"
        rel = (
            f"SELECT p.* EXCLUDE (filename), o.n AS _n FROM read_parquet({files}, filename = true) p "
            "JOIN part_order o USING (filename)"
        )
    else:
        con.register("empty_packets", schema.empty())
        rel = "SELECT *, 0 AS _n FROM empty_packets"
    if keep is not None:  # the selection, compiled by Ibis to this connection's SQL
        con.execute(f"CREATE TEMP VIEW export_rows AS {rel}")
        rel = ibis.to_sql(keep(ibis.duckdb.from_connection(con).table("export_rows")), dialect="duckdb")
    if start is not None and end is not None and start > end:
        raise ValueError(f"--from {start} is after --to {end}")
    where = []
    if start is not None:
        where.append(f"time >= TIMESTAMPTZ {_lit(start.isoformat() + ' 00:00:00+00')}")
    if end is not None:
        where.append(f"time < TIMESTAMPTZ {_lit(end.isoformat() + ' 00:00:00+00')} + INTERVAL 1 DAY")
    if fmt == "dshield":
        where.append("time IS NOT NULL")
    cond = f" WHERE {' AND '.join(where)}" if where else ""
    time_format = TIME_SECONDS
    if fmt in ("csv", "jsonl"):  # one precision for the whole column: microseconds only if needed
        frac = con.execute(f"SELECT bool_or(epoch_us(time) % 1000000 <> 0) FROM ({rel}){cond}").fetchone()
        time_format = TIME_MICROSECONDS if frac and frac[0] else TIME_SECONDS
    query = f"SELECT {_select(fmt, raw, time_format)} FROM ({rel}){cond} ORDER BY _n, line"
    options = {
        "marx": "FORMAT CSV, HEADER true",
        "csv": "FORMAT CSV, HEADER true",
        "jsonl": "FORMAT JSON",
        "parquet": "FORMAT PARQUET, COMPRESSION zstd",
        "ecs": "FORMAT JSON",
        "dshield": "FORMAT CSV, HEADER false, DELIMITER '\t', QUOTE ''",
    }[fmt]
    with tempfile.TemporaryDirectory() as tmp:
        target = str(Path(tmp) / f"export.{fmt}") if out == "-" else str(out)
        written = con.execute(f"COPY ({query}) TO {_lit(target)} ({options})").fetchone()
        rows = written[0] if written else 0  # what COPY wrote, not what the manifest says
        if out == "-":
            with open(target, "rb") as f:
                shutil.copyfileobj(f, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    return int(rows)
