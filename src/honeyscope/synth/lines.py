"""Write packets as netfilter LOG lines, and generate realistic seeded streams of them.

A *packet* is a mapping from canonical column names (see :mod:`honeyscope.schema`) to values;
missing keys mean "not logged". :func:`format_line` prints it the way the kernel's ``nf_log``
does (field order, hex widths, ``FRAG:``, ``OPT (..)``, the bracketed header embedded in ICMP
errors), wrapped in one of the syslog framings of :data:`FRAMINGS`.

Extra, non-canonical keys understood by :func:`format_line`:

* ``incomplete`` (int): the transport header was cut off: ``INCOMPLETE [n bytes]`` follows PROTO.
* ``filename`` (str): the file name written before the stamp in the ``grep`` framing.
"""

from __future__ import annotations

import ipaddress
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

#: Framings format_line can write. What each keeps of the packet's time / host / uptime:
#:
#: ``rfc3164``   ``Mar  3 21:53:59 host kernel: [uptime] ...`` (no year, whole seconds)
#: ``rfc3164-pri`` the same after ``<4>``
#: ``rfc3339``   ``2025-04-28T04:26:10.353484+00:00 host kernel: [uptime] ...``
#: ``no-host``   ``Mar  3 21:53:59 kernel: [uptime] ...`` (no host)
#: ``no-tag``    ``Mar  3 21:53:59 host PREFIX IN=...`` (no ``kernel:`` tag, no uptime)
#: ``dmesg``     ``[uptime] PREFIX IN=...`` (no wall clock, no host)
#: ``journal``   one ``journalctl -o json`` record (µs time, host, no uptime)
#: ``grep``      ``somefile:Mar  3 21:53:59 host kernel: ...`` (psad's grep artefact)
FRAMINGS: tuple[str, ...] = (
    "rfc3164", "rfc3164-pri", "rfc3339", "no-host", "no-tag", "dmesg", "journal", "grep",
)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FLAG_ORDER = ("CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN")


def _full_v6(addr: str) -> str:
    """The kernel's %pI6: eight groups of four lower-case hex digits."""
    return ipaddress.IPv6Address(addr).exploded


def _addr(addr: str, family: int) -> str:
    return _full_v6(addr) if family == 6 else addr


def _g(p: Mapping[str, Any], key: str, default: Any = None) -> Any:
    v = p.get(key)
    return default if v is None else v


def _ip_header(p: Mapping[str, Any], inner: bool) -> str:
    """SRC ... up to (not including) PROTO=, as nf_log prints it."""
    k = "inner_" if inner else ""
    src, dst = p.get(k + "src"), p.get(k + "dst")
    fam = 6 if ":" in str(src) else 4
    out = [f"SRC={_addr(src, fam)} DST={_addr(dst, fam)} "]
    ln = _g(p, k + "len", 0)
    ttl = _g(p, k + "ttl", 64)
    if fam == 4:
        tos = 0 if inner else _g(p, "tos", 0)
        prec = 0 if inner else _g(p, "prec", 0)
        ipid = _g(p, k + "ip_id", 0)
        out.append(f"LEN={ln} TOS=0x{tos:02X} PREC=0x{prec:02X} TTL={ttl} ID={ipid} ")
        if not inner:
            if p.get("ce"):
                out.append("CE ")
            if p.get("df"):
                out.append("DF ")
            if p.get("mf"):
                out.append("MF ")
            if p.get("frag"):
                out.append(f"FRAG:{p['frag']} ")
            if p.get("ip_opt") is not None:
                out.append(f"OPT ({p['ip_opt']}) ")
    else:
        tc = 0 if inner else _g(p, "tos", 0)
        fl = 0 if inner else _g(p, "flowlbl", 0)
        out.append(f"LEN={ln} TC={tc} HOPLIMIT={ttl} FLOWLBL={fl} ")
        if not inner:
            if p.get("ip_opt") is not None:
                out.append(f"OPT ( {p['ip_opt']}) ")
            if p.get("frag") is not None or p.get("mf"):
                out.append(f"FRAG:{_g(p, 'frag', 0)} ")
                if p.get("mf"):
                    out.append("INCOMPLETE ")
                out.append(f"ID:{_g(p, 'ip_id', 0):08x} ")
    return "".join(out)


def _inner(p: Mapping[str, Any]) -> str:
    """The original header an ICMP error embeds, in brackets (without the surrounding space)."""
    proto = p.get("inner_proto") or "UDP"
    out = ["[", _ip_header(p, inner=True), f"PROTO={proto} "]
    if proto in ("TCP", "UDP", "UDPLITE", "SCTP"):
        spt, dpt = _g(p, "inner_spt", 0), _g(p, "inner_dpt", 0)
        out.append(f"SPT={spt} DPT={dpt} ")
        if proto == "TCP":
            out.append("WINDOW=0 RES=0x00 SYN URGP=0 ")
        elif proto in ("UDP", "UDPLITE"):
            fam6 = ":" in str(p.get("inner_src"))
            out.append(f"LEN={max(_g(p, 'inner_len', 28) - (40 if fam6 else 20), 8)} ")
    elif proto in ("ICMP", "ICMPv6"):
        t, c = _g(p, "inner_icmp_type", 8), _g(p, "inner_icmp_code", 0)
        out.append(f"TYPE={t} CODE={c} ")
        if t in (0, 8, 128, 129):
            out.append("ID=0 SEQ=0 ")
    out.append("] ")
    return "".join(out)


def _transport(p: Mapping[str, Any]) -> str:
    proto = str(p.get("proto") or "TCP")
    out = [f"PROTO={proto} "]
    if p.get("frag"):
        return "".join(out)  # a non-first fragment carries no transport header
    if p.get("incomplete") is not None:
        out.append(f"INCOMPLETE [{p['incomplete']} bytes] ")
        return "".join(out)
    if proto == "TCP":
        out.append(f"SPT={_g(p, 'spt', 0)} DPT={_g(p, 'dpt', 0)} ")
        if p.get("tcp_seq") is not None:
            out.append(f"SEQ={p['tcp_seq']} ACK={_g(p, 'tcp_ack', 0)} ")
        out.append(f"WINDOW={_g(p, 'window', 0)} RES=0x{_g(p, 'res', 0):02x} ")
        flags = p.get("tcp_flags") or ""
        if flags:
            out.append(flags + " ")
        out.append(f"URGP={_g(p, 'urgp', 0)} ")
        if p.get("tcp_opt") is not None:
            out.append(f"OPT ({p['tcp_opt']}) ")
    elif proto in ("UDP", "UDPLITE"):
        out.append(f"SPT={_g(p, 'spt', 0)} DPT={_g(p, 'dpt', 0)} LEN={_g(p, 'l4_len', 8)} ")
    elif proto in ("SCTP", "DCCP"):
        out.append(f"SPT={_g(p, 'spt', 0)} DPT={_g(p, 'dpt', 0)} ")
    elif proto in ("ICMP", "ICMPv6"):
        t, c = _g(p, "icmp_type", 8), _g(p, "icmp_code", 0)
        out.append(f"TYPE={t} CODE={c} ")
        echo = (0, 8) if proto == "ICMP" else (128, 129)
        errors = (3, 4, 5, 11) if proto == "ICMP" else (1, 2, 3, 4)
        if t in echo:
            out.append(f"ID={_g(p, 'icmp_id', 0)} SEQ={_g(p, 'icmp_seq', 0)} ")
        elif t in errors:
            if p.get("inner_src") is not None:
                out.append(_inner(p))
            if p.get("mtu") is not None:
                out.append(f"MTU={p['mtu']} ")
    elif proto in ("AH", "ESP"):
        out.append(f"SPI=0x{_g(p, 'spi', 0):x} ")
    return "".join(out)


def kernel_message(p: Mapping[str, Any]) -> str:
    """The netfilter part of the line: ``PREFIX IN=... OUT=... ...`` (the kernel's message)."""
    out = [p.get("prefix") or "", f"IN={p.get('in_iface') or ''} OUT={p.get('out_iface') or ''} "]
    if p.get("physin"):
        out.append(f"PHYSIN={p['physin']} ")
    if p.get("physout"):
        out.append(f"PHYSOUT={p['physout']} ")
    if p.get("mac_dst") is not None:
        et = _g(p, "ethertype", 0x0800)
        out.append(f"MAC={p['mac_dst']}:{p['mac_src']}:{et >> 8:02x}:{et & 0xFF:02x} ")
    elif p.get("mac") is not None:
        out.append(f"MAC={p['mac']} ")
    out.append(_ip_header(p, inner=False))
    out.append(_transport(p))
    if p.get("uid") is not None:
        out.append(f"UID={p['uid']} GID={_g(p, 'gid', 0)} ")
    if p.get("mark"):
        out.append(f"MARK=0x{p['mark']:x} ")
    return "".join(out)


def _uptime(p: Mapping[str, Any]) -> str:
    up = p.get("uptime")
    if up is None:
        return ""
    secs = int(up)
    micros = round((up - secs) * 1_000_000)
    if micros == 1_000_000:
        secs, micros = secs + 1, 0
    return f"[{secs:5d}.{micros:06d}] "


def _local(p: Mapping[str, Any], tz: str) -> datetime:
    t = p.get("time")
    if t is None:
        t = datetime(2025, 1, 1, tzinfo=UTC)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(ZoneInfo(tz)) if tz != "UTC" else t.astimezone(UTC)


def _bsd_stamp(t: datetime) -> str:
    return f"{_MONTHS[t.month - 1]} {t.day:2d} {t.hour:02d}:{t.minute:02d}:{t.second:02d}"


def format_line(packet: Mapping[str, Any], framing: str = "rfc3164", *, tz: str = "UTC") -> str:
    """``packet`` as one log line (no newline) in ``framing`` (one of :data:`FRAMINGS`).

    Wall-clock stamps are written in zone ``tz``; ``rfc3339`` carries its offset.
    """
    msg = kernel_message(packet)
    host = packet.get("host") or "localhost"
    if framing == "dmesg":
        return (_uptime(packet) or "[    0.000000] ") + msg
    if framing == "journal":
        t = _local(packet, "UTC")
        us = (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        rec = {
            "__REALTIME_TIMESTAMP": str(us),
            "_HOSTNAME": host,
            "SYSLOG_IDENTIFIER": "kernel",
            "_TRANSPORT": "kernel",
            "PRIORITY": "4",
            "MESSAGE": msg,
        }
        return json.dumps(rec, separators=(",", ":"))
    t = _local(packet, tz)
    if framing == "rfc3339":
        return f"{t.isoformat(timespec='microseconds')} {host} kernel: {_uptime(packet)}{msg}"
    stamp = _bsd_stamp(t)
    if framing == "no-host":
        return f"{stamp} kernel: {_uptime(packet)}{msg}"
    if framing == "no-tag":
        return f"{stamp} {host} {msg}"
    line = f"{stamp} {host} kernel: {_uptime(packet)}{msg}"
    if framing == "rfc3164-pri":
        return "<4>" + line
    if framing == "grep":
        return f"{packet.get('filename') or 'kern.log'}:{line}"
    if framing == "rfc3164":
        return line
    raise ValueError(f"unknown framing {framing!r}; expected one of {FRAMINGS}")


# --------------------------------------------------------------------------------------------
# The realistic generator
# --------------------------------------------------------------------------------------------

_TCP_PORTS = (
    (23, 18), (22, 14), (445, 8), (80, 8), (3389, 6), (443, 5), (8080, 5), (2323, 3),
    (1433, 3), (3306, 2), (5900, 2), (81, 2), (8443, 2), (6379, 1), (25, 1), (21, 1),
    (8088, 1), (5555, 1), (7547, 1), (9200, 1),
)
_UDP_PORTS = (
    (53, 10), (123, 6), (161, 5), (1900, 5), (5060, 6), (137, 4), (19, 2), (11211, 2),
    (389, 2), (500, 2), (3702, 1), (5353, 2), (27015, 1),
)
_PREFIXES = (
    # (log prefix as configured, weight)
    ("[UFW BLOCK] ", 30),
    ("Shorewall:net2fw:DROP:", 10),
    ("SFW2-INext-DROP-DEFLT ", 8),
    ("[WAN_LOCAL-default-D]", 8),
    ("DROP ", 14),
    ("IN_DROP ", 6),
    ("iptables denied: ", 8),
    ("", 4),
    ("INPUT reject: ", 4),
    ("[UFW AUDIT] ", 3),
    ("DROP(src wan)", 5),
)
_FRAMING_WEIGHTS = (
    ("rfc3164", 55), ("rfc3339", 20), ("rfc3164-pri", 6), ("no-tag", 5), ("no-host", 4),
    ("journal", 5), ("dmesg", 3), ("grep", 2),
)
_SENSOR_NAMES = (
    "tokyo", "oregon", "singapore", "us-east", "norcal", "sydney", "sa", "zeppo-norcal", "eu",
    "fra-hp-01", "ams-hp-02", "sgp-vps-7",
)
_JUNK = (
    "sshd[{pid}]: Failed password for root from {src} port {spt} ssh2",
    "sshd[{pid}]: Invalid user admin from {src} port {spt}",
    "CRON[{pid}]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
    "systemd[1]: Started Session {pid} of user ubuntu.",
    "kernel: [{up}] usb 1-1: new high-speed USB device number 3 using ehci-pci",
    "kernel: [{up}] TCP: request_sock_TCP: Possible SYN flooding on port 22. Sending cookies.",
    "dhclient[{pid}]: DHCPREQUEST of 10.0.0.5 on eth0 to 10.0.0.1 port 67",
)


def _weighted(rng: random.Random, items: Sequence[tuple[Any, int]]) -> Any:
    return rng.choices([v for v, _ in items], weights=[w for _, w in items])[0]


def _mac(rng: random.Random) -> str:
    return ":".join(f"{rng.randrange(256):02x}" for _ in range(6))


def _rand_v4(rng: random.Random) -> str:
    while True:
        a = rng.randrange(1, 224)
        if a not in (10, 127):
            return f"{a}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _rand_v6(rng: random.Random) -> str:
    groups = [0x2001, rng.randrange(0x200, 0xFFFF), rng.randrange(0x10000), 0, 0, 0, 0,
              rng.randrange(1, 0x10000)]
    if rng.random() < 0.5:
        groups[4:7] = [rng.randrange(0x10000) for _ in range(3)]
    return str(ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups)))


class _Sensor:
    def __init__(self, rng: random.Random, name: str, framing: str | None) -> None:
        self.name = name
        self.framing = framing or _weighted(rng, _FRAMING_WEIGHTS)
        self.prefix = _weighted(rng, _PREFIXES)
        self.iface = rng.choice(("eth0", "ens3", "enp0s3", "eth1", "ens5"))
        self.mac_dst = _mac(rng)
        self.mac_src = _mac(rng)  # the upstream router
        self.v4 = f"172.{rng.randrange(16, 32)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        self.v6 = _rand_v6(rng)
        self.boot = rng.uniform(3_600, 30 * 86_400)  # seconds of uptime at the stream's start


def generate_packets(
    n: int,
    seed: int = 0,
    *,
    start: datetime | None = None,
    sensors: Sequence[str] | None = None,
    framings: Sequence[str] | None = None,
    rate: float = 20.0,
) -> Iterator[dict[str, Any]]:
    """``n`` realistic packets (canonical-key dicts plus ``framing``), seeded and deterministic.

    A fleet of sensors (each with its own framing, log prefix, interface and addresses) sees
    scanners drawn from a heavy-tailed pool: TCP SYN scans on common ports (some with TCP
    options), UDP probes, ICMP echo and ICMP errors with embedded headers, ~4 % IPv6.
    ``rate`` is the fleet-wide mean packets per second (exponential gaps).
    """
    rng = random.Random(seed)
    names = list(sensors) if sensors else list(_SENSOR_NAMES)
    fleet = [
        _Sensor(rng, nm, framings[i % len(framings)] if framings else None)
        for i, nm in enumerate(names)
    ]
    sensor_w = [1.0 / (i + 1) ** 0.7 for i in range(len(fleet))]
    pool_v4 = [_rand_v4(rng) for _ in range(5000)]
    pool_v6 = [_rand_v6(rng) for _ in range(200)]
    pool_w = [1.0 / (i + 1) ** 1.1 for i in range(len(pool_v4))]
    t = start or datetime(2025, 3, 1, tzinfo=UTC)
    t = t.replace(microsecond=0)
    t0 = t
    tcp_ports, tcp_w = zip(*_TCP_PORTS, strict=True)
    udp_ports, udp_w = zip(*_UDP_PORTS, strict=True)
    batch = 4096
    for base in range(0, n, batch):
        k = min(batch, n - base)
        s_idx = rng.choices(range(len(fleet)), weights=sensor_w, k=k)
        srcs4 = rng.choices(pool_v4, weights=pool_w, k=k)
        for j in range(k):
            t += timedelta(microseconds=int(rng.expovariate(rate) * 1_000_000))
            s = fleet[s_idx[j]]
            v6 = rng.random() < 0.04
            src = rng.choice(pool_v6) if v6 else (srcs4[j] if rng.random() < 0.9 else _rand_v4(rng))
            p: dict[str, Any] = {
                "time": t,
                "uptime": round(s.boot + (t - t0).total_seconds(), 6),
                "host": s.name,
                "framing": s.framing,
                "prefix": s.prefix,
                "in_iface": s.iface,
                "out_iface": None,
                "mac_dst": s.mac_dst,
                "mac_src": s.mac_src,
                "ethertype": 0x86DD if v6 else 0x0800,
                "src": src,
                "dst": s.v6 if v6 else s.v4,
                "ttl": rng.choice((rng.randrange(30, 64), rng.randrange(100, 128),
                                   rng.randrange(220, 256))),
                "ip_id": rng.randrange(65536),
                "tos": 0,
                "prec": 0,
            }
            if v6:
                p["flowlbl"] = rng.choice((0, rng.randrange(1 << 20)))
            r = rng.random()
            if r < 0.70:
                p["proto"] = "TCP"
                p["spt"] = rng.randrange(1024, 65536)
                p["dpt"] = rng.choices(tcp_ports, weights=tcp_w)[0] if rng.random() < 0.85 \
                    else rng.randrange(1, 65536)
                p["window"] = rng.choice((1024, 2048, 3072, 4096, 14600, 29200, 65535))
                p["res"] = 0
                p["tcp_flags"] = "SYN" if rng.random() < 0.93 else rng.choice(
                    ("ACK RST", "RST", "FIN", "ACK", "CWR ECE SYN", "URG PSH FIN", ""))
                p["urgp"] = 0
                opt = rng.random() < 0.3
                if opt:
                    p["tcp_opt"] = "020405B4"
                p["len"] = (60 if v6 else 40) + (4 if opt else 0)
                p["df"] = rng.random() < 0.3
            elif r < 0.88:
                p["proto"] = "UDP"
                p["spt"] = rng.randrange(1024, 65536)
                p["dpt"] = rng.choices(udp_ports, weights=udp_w)[0]
                payload = rng.randrange(0, 120)
                p["l4_len"] = 8 + payload
                p["len"] = p["l4_len"] + (40 if v6 else 20)
            else:
                p["proto"] = "ICMPv6" if v6 else "ICMP"
                if rng.random() < 0.7:
                    p["icmp_type"] = 128 if v6 else 8
                    p["icmp_code"] = 0
                    p["icmp_id"] = rng.randrange(65536)
                    p["icmp_seq"] = rng.randrange(4096)
                    p["len"] = 84 if not v6 else 104
                else:
                    p["icmp_type"] = 1 if v6 else rng.choice((3, 3, 11))
                    p["icmp_code"] = rng.choice((1, 3, 4)) if v6 else (
                        3 if p["icmp_type"] == 3 else 0)
                    p["inner_src"] = p["dst"]
                    p["inner_dst"] = src
                    p["inner_proto"] = rng.choice(("UDP", "TCP"))
                    p["inner_spt"] = rng.randrange(1024, 65536)
                    p["inner_dpt"] = rng.choice((53, 123, 33434, 443))
                    p["inner_ttl"] = rng.randrange(1, 64)
                    p["inner_len"] = 68 if not v6 else 88
                    if not v6:
                        p["inner_ip_id"] = rng.randrange(65536)
                    p["len"] = 96 if not v6 else 136
            yield p


def generate_lines(
    n: int,
    seed: int = 0,
    *,
    start: datetime | None = None,
    sensors: Sequence[str] | None = None,
    framings: Sequence[str] | None = None,
    junk: float = 0.01,
    rate: float = 20.0,
) -> Iterator[str]:
    """``n`` realistic log lines (no newlines), seeded and deterministic.

    Mostly packets from :func:`generate_packets` written by :func:`format_line` in each sensor's
    framing; a fraction ``junk`` are other syslog lines (sshd, cron, non-netfilter kernel
    messages) in the same framing, which the parser must reject as "not a netfilter line".
    """
    rng = random.Random(seed ^ 0x5EED)
    for p in generate_packets(n, seed, start=start, sensors=sensors, framings=framings,
                              rate=rate):
        if junk and rng.random() < junk:
            yield _junk_line(rng, p)
        else:
            yield format_line(p, p["framing"])


def _junk_line(rng: random.Random, p: Mapping[str, Any]) -> str:
    text = rng.choice(_JUNK).format(
        pid=rng.randrange(100, 40000), src=p["src"], spt=rng.randrange(1024, 65536),
        up=f"{p['uptime']:.6f}",
    )
    framing = p["framing"]
    if framing == "journal":
        t = p["time"]
        us = (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        return json.dumps({"__REALTIME_TIMESTAMP": str(us), "_HOSTNAME": p["host"],
                           "MESSAGE": text}, separators=(",", ":"))
    if framing == "dmesg":
        return f"[{p['uptime']:12.6f}] {text.split(': ', 1)[-1]}"
    t = p["time"]
    if framing == "rfc3339":
        return f"{t.isoformat(timespec='microseconds')} {p['host']} {text}"
    return f"{_bsd_stamp(t)} {p['host']} {text}"
