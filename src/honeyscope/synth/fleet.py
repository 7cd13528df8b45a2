"""A seeded generator of a whole sensor fleet's traffic, for scale tests and benchmarks.

The fleet is N sensors (honeypots), each with one IPv4 and one IPv6 address, a time zone and a
weight (some sensors see five times what others see, as in the bundled marx data). Its traffic has
three parts:

* **background radiation** (most rows): sources drawn from a heavy-tailed pool (a few sources send a
  large share, many send one packet), each with a favourite protocol and port, so that the protocol
  mix (TCP 73 %, UDP 17 %, ICMP 10 %), the top ports (1433, 445, 3389, 80, 8080, 22, 3306, ...),
  the source-port quirks (the 6000 of the SYN scanners) and the ICMP types follow the bundled data;
  diurnal (sensor-local afternoon peak) and weekly (quieter weekends) cycles modulate the rate;
* **scanners** that sweep the whole fleet: one source, one port, every sensor in turn, in minutes;
* **floods**: one source hammering one sensor for minutes (SYN, UDP or ICMP echo).

Everything is vectorised (numpy, pyarrow) and generated one day at a time, each day from its own
seeded random stream, so the output depends only on the parameters, memory is bounded by one day's
rows, and 10^7 rows take seconds. Output: canonical Arrow tables (:func:`generate`), a honeyscope
store (:func:`write_store`), or raw syslog files, one per sensor (:func:`write_logs`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from honeyscope import schema

DAY_US = 86_400_000_000

# -- the shape of the bundled data (marx, 2013), counted from marx.csv.gz ----------------------
#: (port, packets) of the top TCP destination ports; the rest spread over random ports.
TCP_PORTS = [
    (1433, 109425), (445, 40611), (3389, 30077), (80, 19574), (8080, 15406), (22, 15102),
    (3306, 14512), (135, 10180), (23, 8330), (6666, 5078), (443, 4660), (3128, 4626), (5900, 3580),
    (25, 2505), (6675, 2337), (1998, 2257), (4899, 2189), (8090, 1522), (1080, 1429), (6674, 1242),
    (5631, 1237), (8000, 1109), (110, 1052), (139, 996), (65500, 919), (6668, 909), (18186, 706),
    (8888, 693), (8443, 648), (21, 618), (81, 568), (8081, 544), (808, 525), (6671, 519),
    (8088, 519), (6670, 488), (6667, 487), (1723, 482), (9090, 415), (8118, 408),
]
TCP_TOTAL = 327991
UDP_PORTS = [
    (56338, 18196), (2193, 11116), (53, 9627), (5060, 5266), (19, 3053), (1469, 2605),
    (20029, 1938), (14415, 1923), (31522, 1831), (48485, 1770), (54521, 1712), (68, 1712),
    (40938, 1709), (38161, 1652), (32452, 1588), (42776, 1555), (1434, 926), (1772, 830),
    (3544, 684), (1499, 566), (137, 456), (161, 300), (5415, 261), (54462, 247), (19876, 236),
]
UDP_TOTAL = 78779
#: ICMP (type, packets).
ICMP_TYPES = [(8, 38597), (3, 4251), (11, 1156), (0, 536), (13, 142), (5, 127), (12, 2)]
#: protocol mix: TCP, UDP, ICMP.
PROTO_MIX = (327991, 78779, 44811)
#: fixed source ports some scanners use (6000: the classic SYN scanner), share of TCP sources.
TCP_FIXED_SPT = [(6000, 0.47), (4445, 0.015), (43825, 0.009), (8888, 0.008)]
UDP_FIXED_SPT = [(25416, 0.23), (10100, 0.14), (53, 0.03), (67, 0.02)]

#: sensor regions: (name, UTC offset in hours).
REGIONS = [
    ("tokyo", 9), ("oregon", -8), ("singapore", 8), ("us-east", -5), ("norcal", -8),
    ("sydney", 10), ("sa", -3), ("eu", 1), ("frankfurt", 1), ("mumbai", 5), ("london", 0),
    ("seoul", 9), ("ohio", -5), ("canada", -5), ("paris", 1), ("stockholm", 1),
]
PREFIXES = ["[UFW BLOCK]", "iptables-drop:", "DROP", "Shorewall:net2fw:DROP:"]
FRAMINGS = ("rfc3164", "rfc3339", "rfc3164-pri")  # as in honeyscope.synth.lines


@dataclass(frozen=True)
class FleetSpec:
    """What to generate. Same spec → same rows, whatever the chunking or the machine."""

    sensors: int = 9
    rows: int = 1_000_000
    seed: int = 0
    start: date = date(2024, 1, 1)
    days: int = 28
    scan_share: float = 0.18  # rows from fleet-wide sweeps
    flood_share: float = 0.06  # rows from floods
    ipv6_share: float = 0.01  # background rows over IPv6
    diurnal: float = 0.3  # amplitude of the sensor-local daily cycle (0 = flat)
    weekend: float = 0.85  # weekend rate relative to weekdays

    def __post_init__(self) -> None:
        if not 1 <= self.sensors <= 65535 or self.rows < 0 or self.days < 1:
            raise ValueError("need 1 <= sensors <= 65535, rows >= 0, days >= 1")
        if not 0 <= self.scan_share + self.flood_share <= 0.9:
            raise ValueError("scan_share + flood_share must be within [0, 0.9]")


@dataclass
class Sensor:
    host: str
    addr: str
    addr_int: int
    addr6: str
    utc_offset: int
    weight: float
    prefix: str
    framing: str
    mac: str


@dataclass
class Fleet:
    spec: FleetSpec
    sensors: list[Sensor]
    day_rows: np.ndarray  # rows per day, sums to spec.rows
    pool_int: np.ndarray  # background source pool, IPv4 as uint32
    pool_proto: np.ndarray  # 0 TCP, 1 UDP, 2 ICMP
    pool_port: np.ndarray  # favourite dpt (TCP/UDP) or ICMP type
    pool_spt: np.ndarray  # fixed source port, 0 = ephemeral
    extra: dict = field(default_factory=dict)


# -- helpers ----------------------------------------------------------------------------------
def _dist(pairs: list[tuple[int, int]], total: int) -> tuple[np.ndarray, np.ndarray, float]:
    vals = np.array([p for p, _ in pairs], dtype=np.int64)
    w = np.array([c for _, c in pairs], dtype=np.float64) / total
    return vals, w, 1.0 - w.sum()


def _draw_ports(rng: np.random.Generator, n: int, pairs, total) -> np.ndarray:
    """Ports with the bundled data's frequencies; the remaining mass spread over 1..65535."""
    vals, w, rest = _dist(pairs, total)
    p = np.append(w, rest)
    k = rng.choice(len(p), size=n, p=p / p.sum())
    out = np.empty(n, dtype=np.int64)
    top = k < len(vals)
    out[top] = vals[k[top]]
    out[~top] = rng.integers(1, 65536, size=int((~top).sum()))
    return out


def _public_ipv4(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random unicast public-looking IPv4 addresses (no private, loopback, multicast, reserved)."""
    out = rng.integers(1 << 24, 224 << 24, size=n, dtype=np.int64)
    for _ in range(8):
        a = out >> 24
        b = (out >> 16) & 0xFF
        bad = (a == 10) | (a == 127) | (a == 0) | ((a == 172) & (b >= 16) & (b < 32))
        bad |= (a == 192) & (b == 168)
        bad |= (a == 100) & (b >= 64) & (b < 128)
        bad |= (a == 169) & (b == 254)
        if not bad.any():
            break
        out[bad] = rng.integers(1 << 24, 224 << 24, size=int(bad.sum()), dtype=np.int64)
    return out.astype(np.uint32)


def ipv4_text(ints: np.ndarray | pa.Array) -> pa.Array:
    """Dotted quads of uint32 addresses, vectorised."""
    a = np.asarray(ints, dtype=np.int64)
    parts = [pa.array((a >> s) & 0xFF).cast(pa.string()) for s in (24, 16, 8, 0)]
    return pc.binary_join_element_wise(*parts, ".")


def _ipv6_pool(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` canonical IPv6 sources (2001:db8:a:b::c, compressed, lower case). A small pool made
    once per fleet, so the Python formatting is off the hot path."""
    g = rng.integers(1, 0x10000, size=(n, 3))
    return pa.array([f"2001:db8:{a:x}:{b:x}::{c:x}" for a, b, c in g.tolist()], pa.string())


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` that sum to ``total`` exactly."""
    raw = total * weights / weights.sum()
    out = np.floor(raw).astype(np.int64)
    short = total - int(out.sum())
    if short:
        out[np.argsort(out - raw, kind="stable")[:short]] += 1
    return out


# -- the plan ---------------------------------------------------------------------------------
def plan(spec: FleetSpec) -> Fleet:
    """The fleet and everything shared by all days (sensors, source pool, rows per day)."""
    rng = np.random.default_rng([spec.seed, 0xF1EE7])
    sensors = []
    weights = rng.lognormal(0.0, 0.6, size=spec.sensors)
    for i in range(spec.sensors):
        region, offset = REGIONS[i % len(REGIONS)]
        addr_int = ((198 << 24) | (18 << 16)) + i + 1  # 198.18.0.0/15, the benchmarking range
        sensors.append(Sensor(
            host=f"{region}-{i // len(REGIONS) + 1:02d}",
            addr=f"198.{18 + ((i + 1) >> 16)}.{((i + 1) >> 8) & 0xFF}.{(i + 1) & 0xFF}",
            addr_int=addr_int,
            addr6=f"2001:db8:ffff:{i + 1:x}::1",
            utc_offset=offset,
            weight=float(weights[i] / weights.sum()),
            prefix=PREFIXES[i % len(PREFIXES)],
            framing=FRAMINGS[i % len(FRAMINGS)],
            mac=f"02:00:00:{(i >> 8) & 0xFF:02x}:{i & 0xFF:02x}:01:02:00:00:00:00:fe:08:00",
        ))
    days = np.array([(spec.start + timedelta(d)).weekday() for d in range(spec.days)])
    day_w = np.where(days >= 5, spec.weekend, 1.0) * rng.lognormal(0.0, 0.12, size=spec.days)
    day_rows = _largest_remainder(spec.rows, day_w)

    pool = int(np.clip(0.16 * spec.rows, 100, 2_000_000))
    pool_int = _public_ipv4(rng, pool)
    proto = rng.choice(3, size=pool, p=np.array(PROTO_MIX) / sum(PROTO_MIX))
    port = np.zeros(pool, dtype=np.int64)
    spt = np.zeros(pool, dtype=np.int64)
    for code, ports, total, fixed in (
        (0, TCP_PORTS, TCP_TOTAL, TCP_FIXED_SPT), (1, UDP_PORTS, UDP_TOTAL, UDP_FIXED_SPT)
    ):
        m = proto == code
        port[m] = _draw_ports(rng, int(m.sum()), ports, total)
        vals = np.array([v for v, _ in fixed] + [0])
        p = np.array([s for _, s in fixed] + [1 - sum(s for _, s in fixed)])
        spt[m] = vals[rng.choice(len(vals), size=int(m.sum()), p=p)]
    m = proto == 2
    tv, tw, _ = _dist(ICMP_TYPES, sum(c for _, c in ICMP_TYPES))
    port[m] = tv[rng.choice(len(tv), size=int(m.sum()), p=tw / tw.sum())]
    fleet = Fleet(spec, sensors, day_rows, pool_int, proto, port, spt)
    fleet.extra["ipv6_pool"] = _ipv6_pool(rng, 4096)
    return fleet


# -- one day ----------------------------------------------------------------------------------
def _diurnal_seconds(rng: np.random.Generator, n: int, amplitude: float) -> np.ndarray:
    """Seconds into a local day, more in the afternoon (peak 15:00) by ``amplitude``."""
    minute = np.arange(1440)
    f = 1.0 + amplitude * np.cos(2 * np.pi * (minute / 60 - 15) / 24)
    cdf = np.cumsum(f)
    m = np.searchsorted(cdf, rng.random(n) * cdf[-1])
    return m * 60.0 + rng.random(n) * 60.0


def _day(fleet: Fleet, d: int) -> pa.Table:
    """Day ``d``'s rows, sorted by (host, time), from the day's own random stream."""
    facts = _day_facts(fleet, d)
    return _materialise(fleet, *facts)


def _day_host_counts(fleet: Fleet, d: int) -> np.ndarray:
    """Rows of day ``d`` per sensor (index order), without building the day's columns."""
    facts = _day_facts(fleet, d)
    return np.bincount(facts[2], minlength=len(fleet.sensors))


def _day_facts(fleet: Fleet, d: int) -> tuple:
    """The drawn per-row facts of day ``d`` (rng, n, sensor, time, proto, port, spt, src_int,
    v6), sorted by (host, time); the rng goes on to draw the other columns."""
    spec = fleet.spec
    rng = np.random.default_rng([spec.seed, d + 1])
    n = int(fleet.day_rows[d])
    ns = len(fleet.sensors)
    day0 = int((datetime.combine(spec.start, datetime.min.time(), UTC) + timedelta(d)).timestamp())
    day0 *= 1_000_000
    n_scan = round(spec.scan_share * n)
    p_flood = 0.3
    flood_day = rng.random() < p_flood or (d == spec.days // 2)
    n_flood = min(round(spec.flood_share * n / p_flood), n // 2) if flood_day else 0
    n_flood = min(n_flood, n - n_scan)
    n_bg = n - n_scan - n_flood

    # background radiation
    w = np.array([s.weight for s in fleet.sensors])
    offsets = np.array([s.utc_offset for s in fleet.sensors]) * 3600
    s_bg = rng.choice(ns, size=n_bg, p=w / w.sum())
    idx = (len(fleet.pool_int) * rng.random(n_bg) ** 2.5).astype(np.int64)
    local = _diurnal_seconds(rng, n_bg, spec.diurnal)
    t_bg = day0 + (((local - offsets[s_bg]) % 86400) * 1e6).astype(np.int64)
    proto_bg = fleet.pool_proto[idx]
    port_bg = fleet.pool_port[idx].copy()
    redraw = rng.random(n_bg) < 0.2
    for code, ports, total in ((0, TCP_PORTS, TCP_TOTAL), (1, UDP_PORTS, UDP_TOTAL)):
        m = redraw & (proto_bg == code)
        port_bg[m] = _draw_ports(rng, int(m.sum()), ports, total)
    spt_bg = fleet.pool_spt[idx].copy()
    eph = spt_bg == 0
    spt_bg[eph] = rng.integers(1024, 65536, size=int(eph.sum()))
    v6_bg = rng.random(n_bg) < spec.ipv6_share

    # scanners: each sweeps the fleet in address order, some sensors twice (retransmits)
    events = max(1, -(-n_scan // max(1, int(1.5 * ns)))) if n_scan else 0
    j = np.arange(n_scan)
    ev = j * events // max(n_scan, 1)
    first = np.searchsorted(ev, np.arange(events))
    pos = j - first[ev]
    start = rng.integers(0, DAY_US, size=events)
    step = rng.uniform(0.05, 5.0, size=events) * 1e6
    rot = rng.integers(0, ns, size=events)
    s_sc = (pos + rot[ev]) % ns
    t_sc = np.minimum(start[ev] + ((pos % ns) * step[ev]).astype(np.int64)
                      + (pos // ns) * 3_000_000, DAY_US - 1) + day0
    sc_udp = rng.random(events) < 0.12
    sc_port = np.where(sc_udp, _draw_ports(rng, events, UDP_PORTS, UDP_TOTAL),
                       _draw_ports(rng, events, TCP_PORTS, TCP_TOTAL))
    sc_src = _public_ipv4(rng, events)
    sc_spt = np.where(rng.random(events) < 0.4, 6000, rng.integers(1024, 65536, size=events))

    # a flood: one source, one sensor, minutes
    fl_sensor = rng.choice(ns, p=w / w.sum())
    fl_kind = rng.choice(3, p=[0.5, 0.3, 0.2])
    fl_start = int(rng.integers(0, DAY_US - 3_600_000_000))
    fl_len = int(rng.uniform(5, 60) * 60e6)
    t_fl = day0 + fl_start + np.sort(rng.integers(0, fl_len, size=n_flood))
    fl_port = int([rng.choice([80, 443]), rng.choice([53, 123, 1900]), 8][fl_kind])
    fl_src = _public_ipv4(rng, 1)

    n_all = n
    sensor = np.concatenate([s_bg, s_sc, np.full(n_flood, fl_sensor)])
    time = np.concatenate([t_bg, t_sc, t_fl])
    proto = np.concatenate([proto_bg, np.where(sc_udp[ev], 1, 0), np.full(n_flood, fl_kind)])
    port = np.concatenate([port_bg, sc_port[ev], np.full(n_flood, fl_port)])
    spt = np.concatenate([spt_bg, sc_spt[ev], rng.integers(1024, 65536, size=n_flood)])
    src_int = np.concatenate([fleet.pool_int[idx], sc_src[ev], np.repeat(fl_src, n_flood)])
    v6 = np.concatenate([v6_bg, np.zeros(n_scan + n_flood, dtype=bool)])
    # sort by (host, time) here, on plain arrays, so the string columns are built in order
    rank = np.argsort(np.argsort([s.host for s in fleet.sensors], kind="stable"), kind="stable")
    order = np.lexsort((time, rank[sensor]))
    sensor, time, proto, port, spt, src_int, v6 = (
        a[order] for a in (sensor, time, proto, port, spt, src_int, v6)
    )
    return rng, n_all, sensor, time, proto, port, spt, src_int, v6


def _materialise(fleet, rng, n, sensor, time, proto, port, spt, src_int, v6) -> pa.Table:
    """Canonical columns from the drawn per-row facts (sensor, time, protocol, port, source)."""
    tcp, udp, icmp = proto == 0, proto == 1, proto == 2
    v4 = ~v6
    hosts = pa.array([s.host for s in fleet.sensors])
    dst4 = pa.array([s.addr for s in fleet.sensors])
    dst6 = pa.array([s.addr6 for s in fleet.sensors])
    sensor_a = pa.array(sensor)
    pool6 = fleet.extra["ipv6_pool"]
    src6 = pool6.take(pa.array(src_int.astype(np.int64) % len(pool6)))
    v6a = pa.array(v6)
    src = pc.if_else(v6a, src6, ipv4_text(src_int))
    dst = pc.if_else(v6a, dst6.take(sensor_a), dst4.take(sensor_a))

    def masked(values, mask, typ):
        return pa.array(values, type=typ, mask=~mask)

    icmp_t = np.where(icmp, port, 0)
    code = np.zeros(n, dtype=np.int64)
    unreach = icmp & (icmp_t == 3)
    code[unreach] = rng.choice([0, 1, 3, 13], size=int(unreach.sum()), p=[0.2, 0.3, 0.4, 0.1])
    proto_txt = np.array(["TCP", "UDP", "ICMP"], dtype=object)[proto]
    proto_txt[icmp & v6] = "ICMPv6"
    v6_type = {8: 128, 0: 129, 3: 1, 11: 3}
    icmp6_t = np.full(n, 128)
    for k, v in v6_type.items():
        icmp6_t[icmp_t == k] = v
    icmp_t = np.where(v6, icmp6_t, icmp_t)
    echo = icmp & np.isin(icmp_t, [0, 8, 128, 129])
    err = icmp & np.isin(icmp_t, [3, 11, 1]) & v4
    length = np.where(tcp, rng.choice([40, 44, 48, 52, 60], size=n, p=[.45, .25, .1, .05, .15]),
                      np.where(udp, 28 + rng.choice([0, 12, 32, 48, 100, 400], size=n),
                               rng.choice([28, 56, 60, 84, 92], size=n)))
    length = length + np.where(v6, 20, 0)
    ttl = rng.choice([64, 128, 255], size=n, p=[.45, .45, .1]) - rng.integers(3, 30, size=n)
    flags = np.array(["SYN", "ACK RST", "ACK", "ACK FIN", "ACK PSH"])[
        rng.choice(5, size=n, p=[.92, .04, .02, .01, .01])]
    win = np.array([1024, 8192, 14600, 29200, 65535, 5840, 16384])[rng.integers(0, 7, size=n)]
    inner_dst = pc.if_else(pa.array(err), src, pa.nulls(n, pa.string()))
    host_col = hosts.take(sensor_a)
    cols = {
        "time": pa.array(time, pa.int64()).cast(schema.TIME_TYPE),
        "host": host_col,
        "src": src,
        "dst": dst,
        "src_int": masked(src_int, v4, pa.uint32()),
        "dst_int": masked(np.array([s.addr_int for s in fleet.sensors], dtype=np.uint32)[sensor],
                          v4, pa.uint32()),
        "family": pa.array(np.where(v6, 6, 4), pa.uint8()),
        "proto": pa.array(proto_txt),
        "spt": masked(spt, ~icmp, pa.uint16()),
        "dpt": masked(port, ~icmp, pa.uint16()),
        "icmp_type": masked(icmp_t, icmp, pa.uint8()),
        "icmp_code": masked(code, icmp, pa.uint8()),
        "icmp_id": masked(rng.integers(0, 65536, size=n), echo, pa.uint16()),
        "icmp_seq": masked(rng.integers(0, 4096, size=n), echo, pa.uint16()),
        "len": pa.array(length, pa.uint32()),
        "l4_len": masked(length - np.where(v6, 40, 20), udp, pa.uint32()),
        "ttl": pa.array(ttl, pa.uint8()),
        "tos": pa.array(np.zeros(n), pa.uint8()),
        "prec": masked(np.zeros(n), v4, pa.uint8()),
        "ip_id": masked(rng.integers(0, 65536, size=n), v4, pa.uint32()),
        "flowlbl": masked(rng.integers(0, 1 << 20, size=n), v6, pa.uint32()),
        "df": pa.array(tcp & v4 & (rng.random(n) < 0.7)),
        "mf": pa.array(np.zeros(n, dtype=bool)),
        "ce": pa.array(np.zeros(n, dtype=bool)),
        "tcp_flags": masked(flags, tcp, pa.string()),
        "window": masked(win, tcp, pa.uint16()),
        "res": masked(np.zeros(n), tcp, pa.uint8()),
        "urgp": masked(np.zeros(n), tcp, pa.uint16()),
        "prefix": pa.array([s.prefix for s in fleet.sensors]).take(sensor_a),
        "action": pa.array(np.full(n, "drop")),
        "in_iface": pa.array(np.full(n, "eth0")),
        "mac_dst": pa.array([s.mac[:17] for s in fleet.sensors]).take(sensor_a),
        "mac_src": pa.array([s.mac[18:35] for s in fleet.sensors]).take(sensor_a),
        "ethertype": pa.array(np.where(v6, 0x86DD, 0x0800), pa.uint16()),
        "inner_src": pc.if_else(pa.array(err), dst, pa.nulls(n, pa.string())),
        "inner_dst": inner_dst,
        "inner_proto": masked(np.full(n, "UDP"), err, pa.string()),
        "inner_spt": masked(rng.integers(1024, 65536, size=n), err, pa.uint16()),
        "inner_dpt": masked(rng.choice([53, 123, 161, 1900], size=n), err, pa.uint16()),
        "inner_len": masked(np.full(n, 76), err, pa.uint32()),
        "inner_ttl": masked(rng.integers(30, 64, size=n), err, pa.uint8()),
        "inner_ip_id": masked(rng.integers(0, 65536, size=n), err, pa.uint32()),
        "source": pc.binary_join_element_wise(host_col, ".log", ""),
    }
    return schema.conform(pa.table(cols))


def generate(
    spec: FleetSpec, fleet: Fleet | None = None, days: range | None = None
) -> Iterator[pa.Table]:
    """The fleet's rows one day at a time, each day sorted by (host, time), in the canonical
    schema; ``source`` is the sensor's log file name and ``line`` the row's line in it.

    ``days`` (default: all) generates only those days, exactly as in the full run: the line
    numbers go on from the earlier days, whose rows per sensor are counted without being built
    (about a third of the cost of a day), so that workers can each take a range of days."""
    fleet = fleet or plan(spec)
    days = range(spec.days) if days is None else days
    hosts = [s.host for s in fleet.sensors]
    next_line = np.ones(len(hosts), dtype=np.int64)
    for d in range(days.start):
        next_line += _day_host_counts(fleet, d)  # sensor order, as index_in below
    for d in days:
        t = _day(fleet, d)  # sorted by (host, time)
        if not t.num_rows:
            continue
        h = pc.index_in(t.column("host"), pa.array(hosts)).to_numpy(zero_copy_only=False)
        # rows of one host are contiguous after the sort: number them on from the last day
        i = np.arange(len(h))
        run_start = np.maximum.accumulate(np.where(np.r_[True, h[1:] != h[:-1]], i, 0))
        line = next_line[h] + i - run_start
        next_line += np.bincount(h, minlength=len(hosts))
        yield t.set_column(t.schema.get_field_index("line"), "line", pa.array(line, pa.uint32()))


def describe(fleet: Fleet) -> dict:
    """The spec and the sensors, as JSON-able data (written next to generated files)."""
    spec = asdict(fleet.spec)
    spec["start"] = fleet.spec.start.isoformat()
    return {"spec": spec, "sensors": [asdict(s) for s in fleet.sensors]}


# -- output -----------------------------------------------------------------------------------
def split_days(days: int, workers: int) -> list[range]:
    """Day ranges for ``workers`` processes, the later ones shorter: a worker first counts the
    rows of the days before its range (about a third of the cost of generating them)."""
    workers = max(1, min(workers, days))
    cost = 0.3  # counting a day, relative to generating it
    # worker k's load, (b[k+1] - b[k]) + cost * b[k], the same L for all: b[k] = L (1 - (1-c)^k) / c
    load = days * cost / (1 - (1 - cost) ** workers)
    bounds = [round(load * (1 - (1 - cost) ** k) / cost) for k in range(workers + 1)]
    bounds[-1] = days
    return [range(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _stage_days(spec: FleetSpec, store_path: str, tx_id: str, days: range, first: int) -> dict:
    """Worker: generate ``days`` into the staging directory of transaction ``tx_id``; the files
    are named from ``first`` on, so that workers of one transaction never collide."""
    from types import SimpleNamespace

    from honeyscope.store.store import Transaction

    tx = Transaction(SimpleNamespace(path=Path(store_path)), id=tx_id, _n=first)  # type: ignore[arg-type]
    no_rejects = schema.REJECT_SCHEMA.empty_table()
    for t in generate(spec, plan(spec), days):
        tx.add(t, no_rejects)
    return {"parts": tx.parts, "rows": tx.rows, "hosts": tx.hosts}


def write_store(
    spec: FleetSpec, path: str | Path, *, fleet: Fleet | None = None, workers: int = 1
) -> dict:
    """Generate the fleet straight into a honeyscope store (one committed input, one file per
    day, partitioned as the store partitions). Returns the store's record of the input.

    ``workers`` > 1 generates ranges of days in that many processes (:func:`split_days`), each
    staging its files in the one transaction; the rows are the same as with one worker."""
    from honeyscope.parallel import process_pool
    from honeyscope.store.store import Store

    fleet = fleet or plan(spec)
    store = Store(path, create=True)
    no_rejects = schema.REJECT_SCHEMA.empty_table()
    with store.lock(wait=30):
        tx = store.begin()
        try:
            ranges = split_days(spec.days, workers)
            if len(ranges) <= 1:
                for t in generate(spec, fleet):
                    tx.add(t, no_rejects)
            else:
                with process_pool(len(ranges)) as pool:
                    futures = [pool.submit(_stage_days, spec, str(store.path), tx.id, r,
                                           r.start * 1000) for r in ranges]
                    for f in futures:  # in day order: the parts list stays in day order
                        got = f.result()
                        tx.parts.extend(got["parts"])
                        tx.rows += got["rows"]
                        for h, n in got["hosts"].items():
                            tx.hosts[h] = tx.hosts.get(h, 0) + n
            record = tx.commit({
                "path": f"fleet:sensors={spec.sensors},rows={spec.rows},seed={spec.seed}",
                "kind": "fleet",
                "lines": spec.rows,
            })
        except BaseException:
            tx.abort()
            raise
    store.set_meta("fleet", describe(fleet))
    return record


def _write_log_days(spec: FleetSpec, directory: str, days: range, suffix: str) -> dict[str, int]:
    """Write ``days`` of every sensor's log to ``HOST.log`` + ``suffix``; returns the last
    time (microseconds) per host."""
    fleet = plan(spec)
    out = Path(directory)
    by_host = {s.host: s for s in fleet.sensors}
    last: dict[str, int] = {}
    handles = {h: open(out / f"{h}.log{suffix}", "wb") for h in by_host}
    try:
        for t in generate(spec, fleet, days):
            hosts = t.column("host").to_numpy(zero_copy_only=False)
            bounds = np.flatnonzero(hosts[1:] != hosts[:-1]) + 1
            starts = np.concatenate([[0], bounds])
            ends = np.concatenate([bounds, [len(hosts)]])
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                h = str(hosts[a])
                part = t.slice(a, b - a)
                handles[h].write(_joined(format_lines(part, by_host[h].framing)))
                last[h] = int(part.column("time").cast(pa.int64())[-1].as_py())
    finally:
        for f in handles.values():
            f.close()
    return last


def _append(dest: Path, src: Path) -> None:
    """Append file ``src`` to ``dest`` in the kernel (copy_file_range) and remove ``src``."""
    import os

    with open(src, "rb") as fi, open(dest, "r+b") as fo:  # not "ab": O_APPEND is refused
        fo.seek(0, os.SEEK_END)
        left = os.fstat(fi.fileno()).st_size
        while left > 0:
            n = os.copy_file_range(fi.fileno(), fo.fileno(), min(left, 1 << 30))
            if n == 0:
                raise OSError(f"copy_file_range stopped short appending {src} to {dest}")
            left -= n
    src.unlink()


def write_logs(
    spec: FleetSpec, directory: str | Path, *, fleet: Fleet | None = None, workers: int = 1
) -> list[Path]:
    """Generate the fleet as raw netfilter LOG lines, one file ``HOST.log`` per sensor, each in
    its sensor's framing (:data:`FRAMINGS`). Each file's mtime is set to its last line's time, so
    year-less stamps resolve to the right year. Returns the files written.

    ``workers`` > 1 writes ranges of days in that many processes, then appends each worker's
    piece of a sensor's log to the first one's: the files are byte for byte those of one worker.
    """
    import os

    from honeyscope.parallel import process_pool

    fleet = fleet or plan(spec)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    files = {s.host: out / f"{s.host}.log" for s in fleet.sensors}
    ranges = split_days(spec.days, workers)
    if len(ranges) <= 1:
        last = _write_log_days(spec, str(out), range(spec.days), "")
    else:
        suffixes = [f".part{k}" for k in range(len(ranges))]
        with process_pool(len(ranges)) as pool:
            futures = [pool.submit(_write_log_days, spec, str(out), r, sfx)
                       for r, sfx in zip(ranges, suffixes, strict=True)]
            last = {}
            for f in futures:
                last.update(f.result())  # later ranges overwrite: the last time of each host
        for h, f in files.items():
            os.replace(out / f"{h}.log{suffixes[0]}", f)
            for sfx in suffixes[1:]:
                _append(f, out / f"{h}.log{sfx}")
    for h, f in files.items():
        if h in last:
            secs = last[h] / 1e6
            os.utime(f, (secs, secs))
    (out / "fleet.json").write_text(json.dumps(describe(fleet), indent=1) + "\n")
    return list(files.values())


def _joined(lines: pa.Array) -> bytes:
    """The lines, each ended by a newline, as one bytes object (no per-line Python)."""
    lines = pc.binary_join_element_wise(lines, "\n", "").cast(pa.large_string())
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    _, offsets, data = lines.buffers()
    off = np.frombuffer(offsets, dtype=np.int64)[lines.offset: lines.offset + len(lines) + 1]
    return data.to_pybytes()[off[0]: off[-1]] if len(lines) else b""


_MONTHS = pa.array(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec"])
_HEX2 = pa.array([f"0x{i:02X}" for i in range(256)])
_HEXB = pa.array([f"{i:02x}" for i in range(256)])


def _kernel_addr(addr: pa.Array, v6: pa.Array) -> pa.Array:
    """Addresses as the kernel prints them: IPv6 as eight 4-digit groups (%pI6). Handles the
    generator's IPv6 shape ``a:b:c:d::e`` (one ``::`` standing for three zero groups)."""
    g = pc.split_pattern(pc.if_else(v6, addr, pa.scalar("0:0:0:0::0")), ":")
    pad = [pc.utf8_lpad(pc.fill_null(pc.list_element(g, i), ""), 4, "0") for i in (0, 1, 2, 3)]
    last = pc.utf8_lpad(pc.fill_null(pc.list_element(g, 5), ""), 4, "0")
    full = pc.binary_join_element_wise(*pad, pa.scalar("0000:0000:0000"), last, ":")
    return pc.if_else(v6, full, addr)


def format_lines(t: pa.Table, framing: str = "rfc3164") -> pa.Array:
    """netfilter LOG lines (as the kernel's nf_log_syslog writes them, after a syslog header in
    ``framing``: ``rfc3164``, ``rfc3164-pri`` or ``rfc3339``) for the rows of canonical table
    ``t``, vectorised; the same text as :func:`honeyscope.synth.lines.format_line` gives row by
    row (prefix followed by a space) for the columns the fleet generator fills."""
    if framing not in FRAMINGS:
        raise ValueError(f"unknown framing {framing!r}: one of {FRAMINGS}")
    n = t.num_rows
    col = t.column
    s = pa.string()

    def kv(name: str, c) -> pa.Array:
        return pc.binary_join_element_wise(pa.scalar(f"{name}="), pc.cast(c, s), "")

    def flag(name: str, mask) -> pa.Array:
        return pc.if_else(pc.fill_null(mask, False), pa.scalar(name), pa.scalar(None, s))

    def hexcode(c, table=_HEX2) -> pa.Array:
        return table.take(c.cast(pa.int64()))

    v4 = pc.equal(col("family"), 4)
    v6 = pc.equal(col("family"), 6)
    proto = col("proto")
    tcp, udp = pc.equal(proto, "TCP"), pc.equal(proto, "UDP")
    eth = col("ethertype").cast(pa.int64())
    mac = pc.binary_join_element_wise(
        col("mac_dst"), col("mac_src"), hexcode(pc.shift_right(eth, 8), _HEXB),
        hexcode(pc.bit_wise_and(eth, 255), _HEXB), ":")
    mac = pc.if_else(pc.is_null(col("mac")), mac, col("mac"))

    def when(mask, arr) -> pa.Array:
        return pc.if_else(pc.fill_null(mask, False), arr, pa.scalar(None, s))

    inner = pc.binary_join_element_wise(
        kv("[SRC", col("inner_src")), kv("DST", col("inner_dst")), kv("LEN", col("inner_len")),
        pa.scalar("TOS=0x00 PREC=0x00"), kv("TTL", col("inner_ttl")),
        kv("ID", col("inner_ip_id")), kv("PROTO", col("inner_proto")),
        kv("SPT", col("inner_spt")), kv("DPT", col("inner_dpt")),
        kv("LEN", pc.max_element_wise(pc.subtract(col("inner_len").cast(pa.int64()), 20), 8)),
        pa.scalar("]"), " ",
    )
    parts = [
        col("prefix"),
        pc.binary_join_element_wise(pa.scalar("IN="), pc.fill_null(col("in_iface"), ""), ""),
        pc.binary_join_element_wise(pa.scalar("OUT="), pc.fill_null(col("out_iface"), ""), ""),
        kv("MAC", pc.fill_null(mac, "")),
        kv("SRC", _kernel_addr(col("src"), v6)), kv("DST", _kernel_addr(col("dst"), v6)),
        kv("LEN", col("len")),
        when(v4, kv("TOS", hexcode(pc.fill_null(col("tos"), 0)))),
        when(v4, kv("PREC", hexcode(pc.fill_null(col("prec"), 0)))),
        when(v6, kv("TC", col("tos"))),
        when(v4, kv("TTL", col("ttl"))), when(v6, kv("HOPLIMIT", col("ttl"))),
        when(v6, kv("FLOWLBL", col("flowlbl"))),
        when(v4, kv("ID", col("ip_id"))),
        flag("DF", col("df")), flag("MF", col("mf")),
        kv("PROTO", proto),
        kv("SPT", col("spt")), kv("DPT", col("dpt")),
        when(udp, kv("LEN", col("l4_len"))),
        when(tcp, kv("WINDOW", col("window"))), when(tcp, kv("RES", hexcode(col("res")))),
        when(tcp, col("tcp_flags")),
        when(tcp, kv("URGP", col("urgp"))),
        kv("TYPE", col("icmp_type")), kv("CODE", col("icmp_code")),
        kv("ID", col("icmp_id")), kv("SEQ", col("icmp_seq")),
        inner,
        pa.scalar(""),  # the kernel ends its message with a space
    ]
    body = pc.binary_join_element_wise(*parts, " ", null_handling="skip")
    body = pc.replace_substring(body, "  ", " ")  # the empty flags of a NULL scan

    us = col("time").cast(pa.int64()).to_numpy(zero_copy_only=False).astype("datetime64[us]")
    if framing == "rfc3339":
        stamp = pa.array(np.char.add(np.datetime_as_string(us, unit="us"), "+00:00"))
    else:
        months = us.astype("datetime64[M]")
        day = (us.astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.int64) + 1
        mon = _MONTHS.take(pa.array(months.astype(np.int64) % 12))
        hms = pc.utf8_slice_codeunits(pa.array(np.datetime_as_string(us, unit="s")), 11, 19)
        stamp = pc.binary_join_element_wise(
            mon, pc.utf8_lpad(pa.array(day).cast(s), 2, " "), hms, " ")
        if framing == "rfc3164-pri":
            stamp = pc.binary_join_element_wise(pa.scalar("<4>"), stamp, "")
    assert len(stamp) == n
    return pc.binary_join_element_wise(stamp, col("host"), pa.scalar("kernel:"), body, " ")


# -- null and planted fleets for calibrating the trend statistics ------------------------------


@dataclass(frozen=True)
class CalibrationSpec:
    """A fleet whose daily series follow a known model, with or without planted events.

    Per sensor, port and day the number of distinct sources is negative binomial (gamma-Poisson)
    around ``mean × sensor weight × weekday factor × exp(AR(1) level)``: overdispersion
    ``dispersion`` (variance mu + a·mu²), day-to-day autocorrelation ``ar`` of the log level (sd
    ``ar_sd``), quieter weekends; each source sends a geometric number of packets (mean
    ``packets_per_source``). Besides the busy ``ports``, ``rare_ports`` ports are seen now and
    then (0.02-0.5 sources per sensor-day), so that an emerging-port test has noise to resist.
    Planted events (None: a null fleet):

    * ``burst`` (sensor index, port, day index, factor): one day of one sensor's port at
      ``factor`` × its mean;
    * ``shift`` (sensor index, port, day index, factor): that sensor's port at ``factor`` × from
      that day on;
    * ``new_port`` (port, day index, sources per sensor-day): a port never seen before, on every
      sensor from that day on.
    """

    sensors: int = 9
    days: int = 120
    seed: int = 0
    start: date = date(2024, 1, 1)  # a Monday
    ports: tuple[tuple[int, float], ...] = (
        (1433, 30.0), (445, 15.0), (3389, 12.0), (22, 10.0), (80, 8.0), (23, 6.0), (8080, 5.0),
        (3306, 4.0),
    )  # (TCP port, mean distinct sources per sensor-day)
    rare_ports: int = 40
    dispersion: float = 0.04
    ar: float = 0.4
    ar_sd: float = 0.15
    weekday: tuple[float, ...] = (1.0, 1.02, 1.0, 0.98, 1.0, 0.8, 0.75)
    packets_per_source: float = 3.0
    burst: tuple[int, int, int, float] | None = None
    shift: tuple[int, int, int, float] | None = None
    new_port: tuple[int, int, float] | None = None


def calibration_fleet(spec: CalibrationSpec) -> pa.Table:
    """The rows of a :class:`CalibrationSpec` fleet (canonical schema: time, host, src, src_int,
    family, proto, dpt, spt, source, line), sorted by (host, time). Same spec, same rows."""
    rng = np.random.default_rng([spec.seed, 0xCA1B])
    n_s, n_d = spec.sensors, spec.days
    ports = [p for p, _ in spec.ports]
    means = np.array([m for _, m in spec.ports], dtype=float)
    rare = rng.choice(np.arange(10000, 60000), size=spec.rare_ports, replace=False)
    ports += rare.tolist()
    means = np.concatenate([means, rng.uniform(0.02, 0.5, size=spec.rare_ports)])
    n_p = len(ports)
    weight = rng.uniform(0.6, 1.6, size=n_s)
    wd = (np.arange(n_d) + spec.start.weekday()) % 7
    week = np.asarray(spec.weekday, dtype=float)[wd]
    # AR(1) log level per sensor × port, stationary start
    eps = rng.normal(0, spec.ar_sd * np.sqrt(1 - spec.ar**2), size=(n_s, n_p, n_d))
    lvl = np.empty_like(eps)
    lvl[..., 0] = rng.normal(0, spec.ar_sd, size=(n_s, n_p))
    for d in range(1, n_d):  # days (a few hundred), vectorised over sensors × ports
        lvl[..., d] = spec.ar * lvl[..., d - 1] + eps[..., d]
    mu = means[None, :, None] * weight[:, None, None] * week[None, None, :] * np.exp(lvl)
    if spec.shift is not None:
        s_i, port, day, f = spec.shift
        mu[s_i, ports.index(port), day:] *= f
    if spec.burst is not None:
        s_i, port, day, f = spec.burst
        mu[s_i, ports.index(port), day] *= f
    a = spec.dispersion
    lam = rng.gamma(1 / a, a * mu) if a > 0 else mu
    n_src = rng.poisson(lam)
    if spec.new_port is not None:
        port, day, rate = spec.new_port
        extra = np.zeros((n_s, 1, n_d), dtype=np.int64)
        extra[:, 0, day:] = rng.poisson(rate * weight[:, None], size=(n_s, n_d - day))
        n_src = np.concatenate([n_src, extra], axis=1)
        ports.append(port)
    # one row per (source, packet): expand counts
    cells = n_src.ravel()
    s_idx, p_idx, d_idx = np.unravel_index(np.repeat(np.arange(cells.size), cells), n_src.shape)
    n_rows_src = len(s_idx)
    src_int = _public_ipv4(rng, n_rows_src)
    pk = rng.geometric(1 / spec.packets_per_source, size=n_rows_src)
    rep = np.repeat(np.arange(n_rows_src), pk)
    day_start = np.datetime64(spec.start, "us").astype(np.int64)
    t_us = (day_start + d_idx[rep].astype(np.int64) * DAY_US
            + rng.integers(0, DAY_US, size=len(rep)))
    hosts = np.array([f"cal-{i:02d}" for i in range(n_s)], dtype=object)
    host = hosts[s_idx[rep]]
    order = np.lexsort((t_us, s_idx[rep]))
    n = len(rep)
    ints = src_int[rep][order]
    return schema.conform(pa.table({
        "time": pa.array(t_us[order], pa.timestamp("us", tz="UTC")),
        "host": pa.array(host[order], pa.string()),
        "src": ipv4_text(ints),
        "src_int": pa.array(ints, pa.uint32()),
        "family": pa.array(np.full(n, 4, dtype=np.uint8)),
        "proto": pa.array(np.full(n, "TCP", dtype=object), pa.string()),
        "dpt": pa.array(np.asarray(ports)[p_idx[rep]][order], pa.uint16()),
        "spt": pa.array(rng.integers(1024, 65536, size=n)[order], pa.uint16()),
        "source": pa.array(np.full(n, "calibration", dtype=object), pa.string()),
        "line": pa.array(np.arange(1, n + 1), pa.uint32()),
    }))
