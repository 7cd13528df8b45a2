"""Scans and backscatter: what each source did, named the way psad names it.

Every packet gets a ``scan_type`` from its protocol, TCP flags and ICMP type (:func:`packet_types`):

=============  ==========================================================  ============
scan_type      packets                                                     kind
=============  ==========================================================  ============
SYN            TCP SYN without ACK/RST/FIN                                 probe
SYN-FIN        TCP SYN with FIN (no ACK/RST)                               probe
FIN            TCP FIN alone                                               probe
NULL           TCP with no flag at all                                     probe
XMAS           TCP URG+PSH+FIN (psad "SCAN nmap XMAS"), no SYN/ACK/RST     probe
ACK            TCP ACK alone (psad reports it only when asked)             probe
TCP            TCP whose flags were not logged (the marx CSV) or others    probe
UDP            UDP (and UDPLITE)                                           probe
PING           ICMP echo request (8) / ICMPv6 echo request (128)           probe
ICMP           other ICMP/ICMPv6 requests (timestamp, mask, ...)           probe
IP-PROTO       any other IP protocol (nmap -sO, IGMP, GRE, ESP, ...)       probe
REDIRECT       ICMP redirect (5) / ICMPv6 redirect (137): a router's        other
               message about our own route, not a reply to anything
SYN-ACK        TCP SYN+ACK: a reply to a spoofed SYN                       backscatter
RST            TCP RST (with or without ACK, no SYN)                       backscatter
TCP-REPLY      TCP without logged flags from a service port (1-1023) to a  backscatter
               client port (>= 1024): a server's SYN-ACK or RST
DNS-REPLY      UDP from source port 53 to a client port (>= 1024)          backscatter
ECHO-REPLY     ICMP echo reply (0) / ICMPv6 129                            backscatter
ICMP-ERROR     ICMP errors (3, 4, 11, 12) / ICMPv6 1-4                      backscatter
=============  ==========================================================  ============

A *target* is a (sensor, destination address) pair. Per source and scan type, :func:`scans` counts
targets, ports, and the largest number of ports on one target / targets on one port within one
window of ``window_hours`` (psad-style: a scan is what happens within N hours; windows are fixed
UTC bins of that length, 24 h by default), and names the pattern: **vertical** (≥ ``min_ports``
ports on one target within a window), **horizontal** (one port on ≥ ``min_targets`` targets within
a window), **block** (both at once), **protocol** (≥ ``min_protocols`` IP protocols
from one source: nmap's protocol scan), **backscatter** (a source whose packets are mostly replies
to traffic it never received from us: the trace of a DDoS with spoofed sources).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from honeyscope.analyse.engine import whole_seconds

BACKSCATTER_TYPES = ("SYN-ACK", "RST", "TCP-REPLY", "DNS-REPLY", "ECHO-REPLY", "ICMP-ERROR")
#: neither probes nor replies (``kind`` "other")
OTHER_TYPES = ("REDIRECT",)
#: default scan window (hours), see the module's description
WINDOW_HOURS = 24
PROBE_TYPES = (
    "SYN", "SYN-FIN", "FIN", "NULL", "XMAS", "ACK", "TCP", "UDP", "PING", "ICMP", "IP-PROTO",
)
#: psad's wording for the flag-based TCP scans
PSAD_NAMES = {
    "SYN": "SYN scan", "FIN": "SCAN FIN", "NULL": "SCAN NULL", "XMAS": "SCAN nmap XMAS",
    "SYN-FIN": "SCAN SYN FIN", "ACK": "ACK scan", "UDP": "UDP scan", "IP-PROTO": "IP protocol scan",
}

ICMP4_ERRORS = (3, 4, 11, 12)  # not 5: a redirect answers no packet of the sender's
ICMP6_ERRORS = (1, 2, 3, 4)
ICMP4_REDIRECT, ICMP6_REDIRECT = 5, 137


def packet_types(packets: ir.Table) -> ir.Table:
    """``packets`` with ``scan_type``, ``kind`` (probe/backscatter) and ``target`` columns."""
    fl = ibis.literal(" ") + packets.tcp_flags.fill_null("?") + ibis.literal(" ")

    def has(f: str) -> ir.BooleanValue:
        return fl.contains(f" {f} ")

    syn, ack, fin, rst, psh, urg = (has(f) for f in ("SYN", "ACK", "FIN", "RST", "PSH", "URG"))
    flags_known = packets.tcp_flags.notnull()
    proto = packets.proto.upper()
    it = packets.icmp_type.cast("int32")
    is_tcp, is_udp = proto == "TCP", proto.isin(["UDP", "UDPLITE"])
    is_icmp4, is_icmp6 = proto == "ICMP", proto == "ICMPV6"
    spt, dpt = packets.spt.cast("int32"), packets.dpt.cast("int32")
    to_client = dpt.notnull() & (dpt >= 1024)
    tcp_type = ibis.cases(
        (~flags_known & (spt >= 1) & (spt <= 1023) & to_client, "TCP-REPLY"),
        (~flags_known, "TCP"),
        (packets.tcp_flags.strip() == "", "NULL"),
        (syn & ack, "SYN-ACK"),
        (rst & ~syn, "RST"),
        (syn & fin, "SYN-FIN"),
        (syn, "SYN"),
        (fin & psh & urg & ~ack, "XMAS"),
        (fin & ~ack & ~psh & ~urg, "FIN"),
        (ack & ~fin & ~psh & ~urg, "ACK"),
        else_="TCP",
    )
    icmp_type = ibis.cases(
        (is_icmp4 & (it == 8), "PING"),
        (is_icmp6 & (it == 128), "PING"),
        (is_icmp4 & (it == 0), "ECHO-REPLY"),
        (is_icmp6 & (it == 129), "ECHO-REPLY"),
        (is_icmp4 & it.isin(ICMP4_ERRORS), "ICMP-ERROR"),
        (is_icmp6 & it.isin(ICMP6_ERRORS), "ICMP-ERROR"),
        (is_icmp4 & (it == ICMP4_REDIRECT), "REDIRECT"),
        (is_icmp6 & (it == ICMP6_REDIRECT), "REDIRECT"),
        else_="ICMP",
    )
    scan_type = ibis.cases(
        (is_tcp, tcp_type),
        (is_udp & (spt == 53) & to_client, "DNS-REPLY"),
        (is_udp, "UDP"),
        (is_icmp4 | is_icmp6, icmp_type),
        else_="IP-PROTO",
    )
    t = packets.mutate(scan_type=scan_type)
    return t.mutate(
        kind=kind_of(t.scan_type),
        target=t.host.fill_null("") + ibis.literal("|") + t.dst.fill_null(""),
    )


def kind_of(scan_type: ir.StringValue) -> ir.StringValue:
    """The kind of a scan type: backscatter, other or probe (see the module's table)."""
    return ibis.cases(
        (scan_type.isin(BACKSCATTER_TYPES), "backscatter"),
        (scan_type.isin(OTHER_TYPES), "other"),
        else_="probe",
    )


def window_of(time: ir.TimestampValue, hours: float) -> ir.IntegerValue:
    """The fixed UTC window of ``hours`` that ``time`` falls in (an integer, same on every engine)."""
    if not hours or hours <= 0:
        raise ValueError(f"the scan window must be a positive number of hours, not {hours!r}")
    return (whole_seconds(time) // round(hours * 3600)).cast("int64")


#: The integer keys of the sources without an IPv4 integer (IPv6) start here, above every IPv4.
OTHER_SOURCES_FROM = 2**32


def _source_keys(t: ir.Table) -> tuple[ir.Table, ir.Table]:
    """``t`` with ``_s4``, an integer that groups its rows exactly as ``src`` does and is far
    cheaper to hash than the address text: the IPv4 source's own integer (``src_int``), or for
    a source without one (IPv6) its rank among those from :data:`OTHER_SOURCES_FROM` on; null
    where the source is (so that, like a null ``src``, it matches no row of a join). Returns
    that table and the dictionary of the others (``_v6`` text, ``_code``) for
    :func:`_source_text`. The store holds every IPv4 source as its one canonical text (no leading
    zeros) beside its integer, so the integer and the text name the same sources.

    Measured on 10^7 packets (0.7 % of them from IPv6 sources), :func:`scan_summary` under the
    1GB memory limit: 73-76 s of CPU keyed by the text, 64-65 s keyed by the IPv4 integer and
    the IPv6 text, 50 s keyed by this integer alone."""
    other = t.filter(t.src_int.isnull() & t.src.notnull())
    codes = other.select(_v6=other.src).distinct()
    codes = codes.mutate(_code=ibis.row_number().over(order_by=codes._v6) + OTHER_SOURCES_FROM)
    j = t.left_join(codes, t.src == codes._v6)
    j = j.mutate(_s4=ibis.coalesce(j.src_int.cast("int64"), j._code))
    return j.drop("_v6", "_code"), codes


def _source_text(t: ir.Table, codes: ir.Table) -> ir.Table:
    """``t`` (rows keyed by the ``_s4`` of :func:`_source_keys`, whose dictionary is ``codes``)
    with ``src``: the dotted quad of an IPv4 ``_s4`` (the canonical text the store holds beside
    it), else the text of its code."""
    s4 = t._s4
    octets = [((s4 // 2**k) % 256).cast("int64").cast("string") for k in (24, 16, 8, 0)]
    dotted = octets[0] + "." + octets[1] + "." + octets[2] + "." + octets[3]
    j = t.left_join(codes, t._s4 == codes._code)
    return j.mutate(src=ibis.cases((j._s4 < OTHER_SOURCES_FROM, dotted), else_=j._v6))


def scan_summary(packets: ir.Table, window_hours: float = WINDOW_HOURS) -> ir.Table:
    """Per source and scan type: packets, targets, destinations, sensors, ports, port range,
    protocols, first/last seen, ``max_ports_per_target`` and ``max_targets_per_port`` (the
    largest within one window of ``window_hours``), and the source's overall ``src_protocols``
    (all IP protocols), ``ip_protocols`` (those other than TCP/UDP/ICMP/ICMPv6) and
    ``backscatter_share``."""
    t = packet_types(packets)
    t, codes = _source_keys(t)
    t = t.mutate(_win=window_of(t.time, window_hours))
    # the source as keys that hash faster than its text (_source_keys), its text made again from
    # them for the rows found (_source_text); a target is a (host, dst) pair and the kind a
    # function of the scan type: neither is a column of the rows below (alone, measured no
    # gain: 72 s of CPU against 73-76 s at 10^7; with the integer key, 50 s)
    src = ["_s4"]
    keys = [*src, "scan_type"]
    # one pass over the packets: their distinct (source, type, target, port, protocol, window)
    # with counts and times; every measure below is read from these far fewer rows
    d = t.group_by([*keys, "host", "dst", "dpt", "proto", "_win"]).aggregate(
        n=t.count(), first=t.time.min(), last=t.time.max()
    )
    vert = (
        d.group_by([*keys, "host", "dst", "_win"]).aggregate(n=d.dpt.nunique())
        .group_by(keys).aggregate(max_ports_per_target=ibis._.n.max())
    )
    # targets (distinct (host, dst) pairs) of each port and window, and of each source and type
    pairs = d.group_by([*keys, "dpt", "_win", "host", "dst"]).aggregate()
    horiz = (
        pairs.group_by([*keys, "dpt", "_win"]).aggregate(n=ibis._.count())
        .group_by(keys).aggregate(max_targets_per_port=ibis._.n.max())
    )
    targets = (d.group_by([*keys, "host", "dst"]).aggregate()
               .group_by(keys).aggregate(targets=ibis._.count()))
    base = d.group_by(keys).aggregate(
        packets=d.n.sum(),
        destinations=d.dst.nunique(),
        sensors=d.host.nunique(),
        ports=d.dpt.nunique(),
        port_min=d.dpt.min(),
        port_max=d.dpt.max(),
        protocols=d.proto.nunique(),
        first_seen=d.first.min(),
        last_seen=d.last.max(),
    )
    base = base.join(targets, keys)
    per_src = d.group_by(src).aggregate(
        src_protocols=d.proto.nunique(),
        ip_protocols=d.proto.nunique(where=~d.proto.upper().isin(["TCP", "UDP", "ICMP", "ICMPV6"])),
        # share of the source's packets that are backscatter
        backscatter_share=d.n.sum(where=d.scan_type.isin(BACKSCATTER_TYPES)).fill_null(0)
        / d.n.sum(),
    )
    j = base.join(vert, keys).join(horiz, keys).join(per_src, src)
    j = j.mutate(kind=kind_of(j.scan_type))
    j = _source_text(j, codes)
    return j.select(
        "src", "scan_type", "kind", "packets", "targets", "destinations", "sensors", "ports",
        "port_min", "port_max", "protocols", "first_seen", "last_seen", "max_ports_per_target",
        "max_targets_per_port", "src_protocols", "ip_protocols", "backscatter_share",
    )


def scans(
    packets: ir.Table,
    *,
    min_ports: int = 10,
    min_targets: int = 5,
    min_protocols: int = 5,
    include_ack: bool = True,
    window_hours: float = WINDOW_HOURS,
    summary: ir.Table | None = None,
    geo: ir.Table | None = None,
) -> ir.Table:
    """The scans: :func:`scan_summary` rows that form a pattern (``vertical``, ``horizontal``,
    ``block``, ``protocol``, ``backscatter``), with psad's name for the scan type (``psad_name``)
    and the port range as text (``port_range``, e.g. ``1000-1150``). ``include_ack=False`` drops
    ACK scans, as psad does unless ACK detection is enabled. ``window_hours``: the scan window
    (ports / targets counted within one window, see the module). Each row carries the source's
    ``cc``, ``country``, ``asn`` and ``as_name`` (:func:`honeyscope.analyse.enrich.source_origin`:
    the input's own country when it carries one). ``summary``: the :func:`scan_summary` of the
    same packets and window, to reuse (e.g. cached); ``geo``: a
    :func:`honeyscope.analyse.enrich.source_geo` result of the same packets, to reuse."""
    from honeyscope.analyse import enrich

    s = summary if summary is not None else scan_summary(packets, window_hours)
    vertical = s.max_ports_per_target >= min_ports
    horizontal = s.max_targets_per_port >= min_targets
    pattern = ibis.cases(
        ((s.kind == "backscatter") & (s.backscatter_share >= 0.5), "backscatter"),
        ((s.scan_type == "IP-PROTO") & (s.ip_protocols >= min_protocols), "protocol"),
        (vertical & horizontal, "block"),
        (vertical, "vertical"),
        (horizontal, "horizontal"),
        else_=ibis.null("string"),
    )
    s = s.mutate(pattern=pattern)
    s = s.filter(s.pattern.notnull())
    if not include_ack:
        s = s.filter(s.scan_type != "ACK")
    names = ibis.memtable({"_st": list(PSAD_NAMES), "psad_name": list(PSAD_NAMES.values())})
    s = s.left_join(names, s.scan_type == names._st).drop("_st")
    port_range = ibis.cases(
        (s.port_min.isnull(), ibis.null("string")),
        (s.port_min == s.port_max, s.port_min.cast("string")),
        else_=s.port_min.cast("string") + ibis.literal("-") + s.port_max.cast("string"),
    )
    s = s.mutate(port_range=port_range)
    o = enrich.source_origin(packets, geo=geo).rename(_oaddr="addr")
    s = s.left_join(o, s.src == o._oaddr).drop("_oaddr")
    return s.select(
        "src", "cc", "country", "asn", "as_name", "scan_type", "psad_name", "pattern", "kind",
        "packets", "targets", "destinations", "sensors", "ports", "port_range", "port_min",
        "port_max", "max_ports_per_target", "max_targets_per_port", "protocols", "src_protocols",
        "ip_protocols", "first_seen", "last_seen",
    ).order_by([ibis.desc("packets"), "src", "scan_type"])


def type_counts(packets: ir.Table, summary: ir.Table | None = None) -> ir.Table:
    """Packets and sources per scan type and kind (the whole table at a glance). ``summary``:
    the :func:`scan_summary` of the same packets; the counts are then read from its one row per
    source and type instead of the packets (packets without a source, which no parsed line
    gives, have no summary row and are then not counted)."""
    if summary is not None:
        return summary.group_by(["kind", "scan_type"]).aggregate(
            packets=summary.packets.sum(), sources=summary.src.count()
        ).order_by(["kind", ibis.desc("packets"), "scan_type"])
    t = packet_types(packets)
    return t.group_by(["kind", "scan_type"]).aggregate(
        packets=t.count(), sources=t.src.nunique()
    ).order_by(["kind", ibis.desc("packets"), "scan_type"])


def pattern_counts(found: ir.Table) -> ir.Table:
    """Scans (source × type) and their packets per pattern and type."""
    return found.group_by(["pattern", "scan_type"]).aggregate(
        scans=ibis._.count(), sources=ibis._.src.nunique(), packets=ibis._.packets.sum()
    ).order_by(["pattern", ibis.desc("packets"), "scan_type"])


def pattern_sources(found: ir.Table) -> ir.Table:
    """Distinct sources per pattern of :func:`scans` rows (a source with scans of several types
    counts once): ``pattern``, ``sources``, most first."""
    return found.group_by("pattern").aggregate(sources=ibis._.src.nunique()).order_by(
        [ibis.desc("sources"), "pattern"])


def kind_counts(summary: ir.Table) -> ir.Table:
    """Packets and distinct sources per kind (probe / backscatter / ...) of :func:`scan_summary`
    rows: a source with several scan types counts once."""
    return summary.group_by("kind").aggregate(
        packets=summary.packets.sum(), sources=summary.src.nunique()).order_by("kind")
