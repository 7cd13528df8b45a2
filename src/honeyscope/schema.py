"""The canonical packet table: one row per logged packet.

Every stage of the pipeline speaks this schema: the parsers produce it, the store writes it,
the analyses read it. Column meanings are documented in the README ("The store").
Types are the narrowest that hold every legal value of the field.
"""

from __future__ import annotations

import pyarrow as pa

TIME_TYPE = pa.timestamp("us", tz="UTC")

#: (name, type, description) for every canonical column, in table order.
COLUMNS: list[tuple[str, pa.DataType, str]] = [
    ("time", TIME_TYPE, "when the packet was logged, UTC, microseconds"),
    ("uptime", pa.float64(), "kernel uptime stamp [seconds.micros] when the line carries one"),
    ("host", pa.string(), "the sensor: syslog host field, --sensor, or the CSV's host"),
    ("src", pa.string(), "source address, canonical text (IPv6 compressed, lower case)"),
    ("dst", pa.string(), "destination address, canonical text"),
    ("src_int", pa.uint32(), "IPv4 source as an unsigned integer; null for IPv6"),
    ("dst_int", pa.uint32(), "IPv4 destination as an unsigned integer; null for IPv6"),
    ("family", pa.uint8(), "4 or 6"),
    ("proto", pa.string(), "TCP, UDP, ICMP, ICMPv6, ... or the protocol number as text"),
    ("spt", pa.uint16(), "source port (TCP, UDP, UDPLITE, SCTP, DCCP)"),
    ("dpt", pa.uint16(), "destination port"),
    ("icmp_type", pa.uint8(), "ICMP / ICMPv6 type"),
    ("icmp_code", pa.uint8(), "ICMP / ICMPv6 code"),
    ("icmp_id", pa.uint16(), "ICMP echo identifier"),
    ("icmp_seq", pa.uint16(), "ICMP echo sequence number"),
    ("len", pa.uint32(), "IP total length (LEN= before PROTO=)"),
    ("l4_len", pa.uint32(), "UDP length (the LEN= after PROTO=)"),
    ("ttl", pa.uint8(), "IPv4 TTL or IPv6 HOPLIMIT"),
    ("tos", pa.uint8(), "IPv4 TOS or IPv6 traffic class (TC)"),
    ("prec", pa.uint8(), "IPv4 precedence bits (PREC)"),
    ("ip_id", pa.uint32(), "IPv4 ID (16 bit) or IPv6 fragment ID"),
    ("flowlbl", pa.uint32(), "IPv6 flow label"),
    ("df", pa.bool_(), "don't-fragment flag present"),
    ("mf", pa.bool_(), "more-fragments flag present"),
    ("ce", pa.bool_(), "congestion-experienced flag present"),
    ("frag", pa.uint16(), "fragment offset (FRAG=)"),
    ("ip_opt", pa.string(), "IP options hex (OPT before PROTO=)"),
    ("tcp_flags", pa.string(), "TCP flags, space separated in log order; '' = none (NULL scan)"),
    ("window", pa.uint16(), "TCP window"),
    ("res", pa.uint8(), "TCP reserved bits"),
    ("urgp", pa.uint16(), "TCP urgent pointer"),
    ("tcp_seq", pa.uint32(), "TCP sequence number (--log-tcp-sequence)"),
    ("tcp_ack", pa.uint32(), "TCP acknowledgement number"),
    ("tcp_opt", pa.string(), "TCP options hex (OPT after PROTO=TCP)"),
    ("mtu", pa.uint32(), "MTU of an ICMP fragmentation-needed / packet-too-big"),
    ("spi", pa.uint32(), "AH/ESP security parameter index"),
    ("mark", pa.uint32(), "netfilter mark (MARK=)"),
    ("uid", pa.uint32(), "socket owner UID (--log-uid)"),
    ("gid", pa.uint32(), "socket owner GID"),
    ("prefix", pa.string(), "the --log-prefix text, trimmed"),
    ("action", pa.string(), "drop, reject, accept, audit or unknown, from the prefix's wording"),
    ("in_iface", pa.string(), "IN= (null when empty)"),
    ("out_iface", pa.string(), "OUT= (null when empty)"),
    ("physin", pa.string(), "PHYSIN= (bridge port)"),
    ("physout", pa.string(), "PHYSOUT="),
    ("mac", pa.string(), "MAC= as logged, when it is not the usual 14 bytes"),
    ("mac_dst", pa.string(), "destination MAC (first 6 bytes of a 14-byte MAC=)"),
    ("mac_src", pa.string(), "source MAC (next 6 bytes)"),
    ("ethertype", pa.uint16(), "ethertype (last 2 bytes), e.g. 0x0800 = 2048"),
    ("inner_src", pa.string(), "ICMP error: the embedded original header's SRC"),
    ("inner_dst", pa.string(), "embedded DST"),
    ("inner_proto", pa.string(), "embedded PROTO"),
    ("inner_spt", pa.uint16(), "embedded SPT"),
    ("inner_dpt", pa.uint16(), "embedded DPT"),
    ("inner_len", pa.uint32(), "embedded LEN"),
    ("inner_ttl", pa.uint8(), "embedded TTL / HOPLIMIT"),
    ("inner_ip_id", pa.uint32(), "embedded ID"),
    ("inner_icmp_type", pa.uint8(), "embedded ICMP TYPE"),
    ("inner_icmp_code", pa.uint8(), "embedded ICMP CODE"),
    ("geo_cc", pa.string(), "country code carried by the input (marx-geo CSV), else null"),
    ("geo_country", pa.string(), "country name carried by the input"),
    ("geo_locale", pa.string(), "region carried by the input"),
    ("geo_lat", pa.float64(), "latitude carried by the input"),
    ("geo_lon", pa.float64(), "longitude carried by the input"),
    ("source", pa.string(), "the input this row came from (path, or '-' for stdin)"),
    ("line", pa.uint32(), "1-based line number within the input"),
]

SCHEMA: pa.Schema = pa.schema([pa.field(n, t) for n, t, _ in COLUMNS])
COLUMN_NAMES: list[str] = [n for n, _, _ in COLUMNS]

#: The rejects table: lines that were not packets, with why.
REJECT_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("source", pa.string()),
        pa.field("line", pa.uint32()),
        pa.field("reason", pa.string()),
        pa.field("text", pa.string()),
        pa.field("host", pa.string()),  # the sensor, when the line's header names one
        pa.field("time", TIME_TYPE),  # the line's time, when its stamp could be read
    ]
)

#: Actions a prefix can map to.
ACTIONS = ("drop", "reject", "accept", "audit", "unknown")


def conform(table: pa.Table) -> pa.Table:
    """Return ``table`` with exactly the canonical columns, in order, with canonical types.

    Missing columns become all-null; extra columns are an error (they would be lost silently).
    """
    if table.schema.equals(SCHEMA):  # (the compiled parser's tables: nothing to do)
        return table
    extra = set(table.column_names) - set(COLUMN_NAMES)
    if extra:
        raise ValueError(f"columns not in the canonical schema: {sorted(extra)}")
    n = table.num_rows
    arrays = []
    nulls: dict[pa.DataType, pa.Array] = {}  # one all-null array per type, shared (immutable)
    for field in SCHEMA:
        if field.name in table.column_names:
            col = table.column(field.name)
            if col.type != field.type:
                col = col.cast(field.type)
            arrays.append(col)
        else:
            if field.type not in nulls:
                nulls[field.type] = pa.nulls(n, field.type)
            arrays.append(nulls[field.type])
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def empty() -> pa.Table:
    return SCHEMA.empty_table()
