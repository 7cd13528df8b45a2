"""parse_block: framings, time rules, rejects, hostile input, and round trips through synth.lines."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from honeyscope import schema
from honeyscope.ingest.parse import ParseContext, parse_block
from honeyscope.synth.lines import FRAMINGS, format_line, generate_lines

REF = datetime(2025, 6, 1, 12, tzinfo=UTC)
BODY = ("IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=1.2.3.4 DST=5.6.7.8 "
        "LEN=40 TOS=0x00 PREC=0x00 TTL=50 ID=1 PROTO=TCP SPT=1234 DPT=23 WINDOW=1024 RES=0x00 "
        "SYN URGP=0 ")


def run(lines: list[str], first: int = 1, **kw) -> tuple[pa.Table, pa.Table]:
    ctx = kw.pop("ctx", None) or ParseContext(source="t", reference_time=kw.pop("ref", REF), **kw)
    res = parse_block(pa.array(lines, pa.string()), first, ctx)
    assert res.rows.schema == schema.SCHEMA
    assert res.rejects.schema == schema.REJECT_SCHEMA
    assert res.rows.num_rows + res.rejects.num_rows == len(lines)
    # the block-halving safety net must never be what catches a line
    assert "parser error" not in res.rejects.column("reason").to_pylist()
    return res.rows, res.rejects


def rows_of(lines: list[str], **kw) -> list[dict]:
    return run(lines, **kw)[0].to_pylist()


@pytest.mark.parametrize(
    "line,host,time,uptime,prefix",
    [
        (f"Mar  3 21:53:59 hp1 kernel: [12.5] DROP {BODY}", "hp1",
         datetime(2025, 3, 3, 21, 53, 59, tzinfo=UTC), 12.5, "DROP"),
        (f"<4>Mar 13 21:53:59 hp1 kernel: DROP {BODY}", "hp1",
         datetime(2025, 3, 13, 21, 53, 59, tzinfo=UTC), None, "DROP"),
        (f"Mar 3 21:53:59 kernel: [  842.134908] [UFW BLOCK] {BODY}", "sensorX",
         datetime(2025, 3, 3, 21, 53, 59, tzinfo=UTC), 842.134908, "[UFW BLOCK]"),
        (f"2025-04-28T04:26:10.353484+02:00 hp2 kernel: {BODY}", "hp2",
         datetime(2025, 4, 28, 2, 26, 10, 353484, tzinfo=UTC), None, None),
        (f"2025-04-28T04:26:10Z hp2 {BODY}", "hp2",
         datetime(2025, 4, 28, 4, 26, 10, tzinfo=UTC), None, None),
        (f"[ 3445.031964] Shorewall:net2fw:DROP:{BODY}", "sensorX", None, 3445.031964,
         "Shorewall:net2fw:DROP:"),
        (f"kern.log.1:Mar  3 21:53:59 hp3 kernel: [WAN_LOCAL-default-D]{BODY}", "hp3",
         datetime(2025, 3, 3, 21, 53, 59, tzinfo=UTC), None, "[WAN_LOCAL-default-D]"),
        ('{"__REALTIME_TIMESTAMP":"1714276000000001","_HOSTNAME":"jh","MESSAGE":"DROP(src wan)'
         + BODY + '"}', "jh", datetime(2024, 4, 28, 3, 46, 40, 1, tzinfo=UTC), None,
         "DROP(src wan)"),
    ],
)
def test_framings(line, host, time, uptime, prefix) -> None:
    (r,) = rows_of([line], sensor="sensorX")
    assert (r["host"], r["time"], r["uptime"], r["prefix"]) == (host, time, uptime, prefix)
    assert (r["src"], r["dpt"], r["tcp_flags"], r["in_iface"], r["out_iface"]) == (
        "1.2.3.4", 23, "SYN", "eth0", None)
    assert r["action"] == ("drop" if prefix else "unknown")


def test_sensor_fills_but_never_overrides() -> None:
    a, b = rows_of([f"Mar  3 21:53:59 real kernel: {BODY}", f"[1.0] {BODY}"], sensor="cli")
    assert (a["host"], b["host"]) == ("real", "cli")


@pytest.mark.parametrize("prefix,action", [
    ("SFW2-INext-DROP-DEFLT ", "drop"), ("SFW2-INext-ACC-TCP ", "accept"),
    ("[UFW ALLOW] ", "accept"), ("[UFW AUDIT] ", "audit"), ("OUTPUT reject: ", "reject"),
    ("iptables denied: ", "drop"), ("[WAN_IN-10-A]", "accept"), ("LOG ", "audit"),
    ("INBOUND TCP: ", "unknown"), ("BLOCKED ", "drop"), ("DROPPED-x ", "drop"),
])
def test_actions(prefix: str, action: str) -> None:
    (r,) = rows_of([f"Mar  3 21:53:59 h kernel: {prefix}{BODY}"])
    assert r["action"] == action and r["prefix"] == prefix.strip()


def test_year_from_reference_time() -> None:
    ref = datetime(2025, 1, 10, tzinfo=UTC)
    rows = rows_of([f"Dec 31 23:59:59 h kernel: {BODY}", f"Jan 10 23:00:00 h kernel: {BODY}",
                    f"Jan 12 00:00:00 h kernel: {BODY}"], ref=ref)
    # nearest to, and not after, the reference time (+1 day slack)
    assert [r["time"].year for r in rows] == [2024, 2025, 2024]


def test_year_option_with_rollover_across_blocks() -> None:
    ctx = ParseContext(source="t", reference_time=REF, year=2013)
    a, _ = run([f"Nov 30 10:00:00 h kernel: {BODY}", f"Dec 31 23:59:59 h kernel: {BODY}"],
               ctx=ctx)
    b, _ = run([f"Jan  1 00:00:01 h kernel: {BODY}", f"Feb  1 00:00:01 h kernel: {BODY}"],
               first=3, ctx=ctx)
    years = [r["time"].year for r in a.to_pylist() + b.to_pylist()]
    assert years == [2013, 2013, 2014, 2014]
    assert b.column("line").to_pylist() == [3, 4]


def test_tz_and_leap_day() -> None:
    (r,) = rows_of([f"May  1 12:00:00 h kernel: {BODY}"], tz="Europe/Berlin")
    assert r["time"] == datetime(2025, 5, 1, 10, tzinfo=UTC)
    (r,) = rows_of([f"Feb 29 12:00:00 h kernel: {BODY}"])  # 2025 is not a leap year
    assert r["time"] == datetime(2024, 2, 29, 12, tzinfo=UTC)


def test_rejects_and_reasons() -> None:
    lines = [
        "",
        "   \r",
        "Mar  3 21:53:59 h sshd[1]: Failed password for root",
        "Mar  3 21:53:59 h kernel: DROP IN=eth0 OUT= MAC=00:11:22:33:44:55",
        BODY.replace("SRC=1.2.3.4", "SRC=1.2.3.400"),
        BODY.replace("DPT=23", "DPT=70000"),
        BODY.replace("TTL=50", "TTL=300"),
        "Feb 30 12:00:00 h kernel: " + BODY,
        BODY.replace("DPT=23 ", ""),
        "x" * 20_000,
    ]
    _, rej = run(lines)
    assert rej.column("reason").to_pylist() == [
        "blank line", "blank line", "not a netfilter line", "truncated", "bad address",
        "port out of range", "bad value", "bad timestamp", "missing port", "line too long",
    ]
    assert rej.column("line").to_pylist() == list(range(1, 11))
    assert max(len(t.encode()) for t in rej.column("text").to_pylist()) <= 4096


def test_inner_header_never_taken_for_the_packet() -> None:
    line = ("Mar  3 21:53:59 h kernel: IN=eth0 OUT= SRC=9.9.9.9 DST=5.6.7.8 LEN=96 TOS=0x00 "
            "PREC=0xC0 TTL=254 ID=7 PROTO=ICMP TYPE=3 CODE=4 [SRC=5.6.7.8 DST=9.9.9.9 LEN=1500 "
            "TOS=0x00 PREC=0x00 TTL=3 ID=22458 DF PROTO=TCP SPT=443 DPT=51000 WINDOW=0 RES=0x00 "
            "ACK URGP=0 ] MTU=1400 UID=5 GID=5 MARK=0x1f ")  # (nf_log prints UID= and GID= together)
    (r,) = rows_of([line])
    assert (r["spt"], r["dpt"], r["tcp_flags"], r["window"], r["len"], r["ttl"], r["ip_id"]) == (
        None, None, None, None, 96, 254, 7)
    assert (r["inner_src"], r["inner_proto"], r["inner_spt"], r["inner_dpt"], r["inner_len"],
            r["inner_ttl"], r["inner_ip_id"]) == ("5.6.7.8", "TCP", 443, 51000, 1500, 3, 22458)
    assert (r["mtu"], r["uid"], r["mark"], r["df"]) == (1400, 5, 31, False)


def test_ipv6_fragment_and_tcp_sequence() -> None:
    line = ("[1.0] IN=eth0 OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 "
            "DST=2001:0db8:0000:0001:0000:0000:0000:0000 LEN=1280 TC=32 HOPLIMIT=60 "
            "FLOWLBL=12345 FRAG:0 INCOMPLETE ID:0000abcd PROTO=TCP SPT=1 DPT=2 SEQ=4000000000 "
            "ACK=7 WINDOW=5 RES=0x00 ACK SYN URGP=0 OPT (020405B4) ")
    (r,) = rows_of([line])
    assert (r["src"], r["dst"], r["family"], r["src_int"]) == (
        "2001:db8::1", "2001:db8:0:1::", 6, None)
    assert (r["tos"], r["ttl"], r["flowlbl"], r["ip_id"], r["mf"], r["frag"]) == (
        32, 60, 12345, 0xABCD, True, 0)
    assert (r["tcp_seq"], r["tcp_ack"], r["tcp_flags"], r["tcp_opt"]) == (
        4000000000, 7, "ACK SYN", "020405B4")


def test_ipv4_fragment_has_no_ports() -> None:
    (r,) = rows_of([BODY.split("PROTO=")[0].replace("ID=1 ", "ID=1 MF FRAG:185 ") + "PROTO=UDP "])
    assert (r["frag"], r["mf"], r["spt"], r["proto"]) == (185, True, None, "UDP")


def test_garbage_binary_and_huge_lines_never_crash() -> None:
    junk = [
        "\x00\x01\x02 IN= OUT= SRC=",
        "IN=" * 5000,
        "\ufffd\ufffd IN=eth0 OUT= SRC=\ufffd DST=1.1.1.1 PROTO=TCP SPT=1 DPT=2",
        "[ SRC=1.1.1.1 ] IN=eth0 OUT= SRC=1.1.1.1 DST=2.2.2.2 PROTO=[[[ ] ]",
        "{not json IN=",
        '{"MESSAGE": 5}',
        "A" * (10 * 1024 * 1024),
        BODY + "\r",
        BODY.replace(" ", "  "),
    ]
    rows, rej = run(junk)
    assert rows.num_rows >= 1  # the CRLF line is still a packet
    assert "line too long" in rej.column("reason").to_pylist()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_become_rows_or_rejects(data: bytes) -> None:
    """15 examples in the fast tier; the slow twin below runs 60."""
    text = data.decode("utf-8", errors="replace")
    run([text, "IN=eth0 OUT= " + text, BODY + text])


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_become_rows_or_rejects_many(data: bytes) -> None:
    test_random_bytes_become_rows_or_rejects.hypothesis.inner_test(data)


# ------------------------------------------------------------------------------------------------
# round trips: random packet -> format_line(framing) -> parse_block -> same packet
# ------------------------------------------------------------------------------------------------

v4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
v6 = st.integers(0, 2**128 - 1).map(lambda i: ipaddress.IPv6Address(i).compressed)
iface = st.sampled_from(["eth0", "ens3", "br-9e24f5d888e0", "wlan0"])
mac6 = st.lists(st.integers(0, 255), min_size=6, max_size=6).map(
    lambda b: ":".join(f"{x:02x}" for x in b))
prefix = st.sampled_from(["", "[UFW BLOCK] ", "DROP ", "Shorewall:net2fw:DROP:", "IN_DROP ",
                          "[WAN_LOCAL-default-D]", "iptables: ACCEPT ", "DROP(src wan)"])
times = st.datetimes(datetime(2001, 1, 1), datetime(2037, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC))


@st.composite
def packets(draw) -> dict:
    fam = draw(st.sampled_from([4, 6]))
    addr = v4 if fam == 4 else v6
    p = {
        "time": draw(times),
        "uptime": draw(st.integers(0, 10**12)) / 1e6,
        "host": draw(st.sampled_from(["tokyo", "hp-1", "ip-172-30-0-64"])),
        "prefix": draw(prefix),
        "in_iface": draw(iface),
        "out_iface": draw(st.none() | iface),
        "src": draw(addr), "dst": draw(addr),
        "len": draw(st.integers(20, 65535)),
        "ttl": draw(st.integers(0, 255)),
        "tos": draw(st.integers(0, 255)) if fam == 6 else draw(st.sampled_from([0, 2, 16])),
    }
    if fam == 4:
        p["prec"] = draw(st.sampled_from([0, 0x20, 0xC0]))
        p["ip_id"] = draw(st.integers(0, 65535))
        p["df"] = draw(st.booleans())
    else:
        p["flowlbl"] = draw(st.integers(0, 2**20 - 1))
    if draw(st.booleans()):
        p["mac_dst"], p["mac_src"] = draw(mac6), draw(mac6)
        p["ethertype"] = 0x0800 if fam == 4 else 0x86DD
    proto = draw(st.sampled_from(["TCP", "UDP", "ICMP", "47"]))
    if proto == "ICMP" and fam == 6:
        proto = "ICMPv6"
    p["proto"] = proto
    if proto in ("TCP", "UDP"):
        p["spt"], p["dpt"] = draw(st.integers(0, 65535)), draw(st.integers(0, 65535))
    if proto == "TCP":
        p["window"] = draw(st.integers(0, 65535))
        p["res"] = 0
        p["urgp"] = draw(st.integers(0, 65535))
        flags = draw(st.lists(st.sampled_from(
            ["CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"]), unique=True))
        order = ["CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"]
        p["tcp_flags"] = " ".join(f for f in order if f in flags)
        if draw(st.booleans()):
            p["tcp_opt"] = "020405B4"
    elif proto == "UDP":
        p["l4_len"] = draw(st.integers(8, 65535))
    elif proto.startswith("ICMP"):
        echo = draw(st.booleans())
        if echo:
            p["icmp_type"], p["icmp_code"] = (8 if fam == 4 else 128), 0
            p["icmp_id"], p["icmp_seq"] = draw(st.integers(0, 65535)), draw(st.integers(0, 65535))
        else:
            p["icmp_type"], p["icmp_code"] = (3 if fam == 4 else 1), draw(st.integers(0, 15))
            if fam == 4 and p["icmp_code"] == 4:  # "fragmentation needed": nf_log prints MTU=
                p["mtu"] = draw(st.integers(68, 65535))
            p["inner_src"], p["inner_dst"] = p["dst"], p["src"]
            p["inner_proto"] = "UDP"
            p["inner_spt"], p["inner_dpt"] = draw(st.integers(0, 65535)), 33434
            p["inner_len"], p["inner_ttl"] = draw(st.integers(28, 1500)), draw(st.integers(0, 255))
            if fam == 4:
                p["inner_ip_id"] = draw(st.integers(0, 65535))
    return p


LOST = {  # what each framing does not carry
    "rfc3164": {"us"}, "rfc3164-pri": {"us"}, "grep": {"us"}, "rfc3339": set(),
    "no-host": {"us", "host"}, "no-tag": {"us", "uptime"}, "dmesg": {"time", "host"},
    "journal": {"uptime"},
}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packets(), st.sampled_from(FRAMINGS))
def test_round_trip(p: dict, framing: str) -> None:
    """20 examples in the fast tier; the slow twin below runs 80."""
    line = format_line(p, framing)
    ctx = ParseContext(source="t", reference_time=REF, year=p["time"].year)
    rows, rej = run([line], ctx=ctx)
    assert rej.num_rows == 0, (line, rej.to_pylist())
    r = rows.to_pylist()[0]
    lost = LOST[framing]
    if "time" in lost:
        assert r["time"] is None
    else:
        want = p["time"].replace(microsecond=0) if "us" in lost else p["time"]
        assert r["time"] == want
    assert r["host"] == (None if "host" in lost else p["host"])
    if "uptime" not in lost and framing != "journal":
        assert r["uptime"] == pytest.approx(p["uptime"], abs=1e-6)
    assert r["prefix"] == (p["prefix"].strip() or None)
    skip = {"time", "uptime", "host", "prefix"}
    for k, v in p.items():
        if k in skip:
            continue
        got = r[k]
        if k in ("df",) and not v:
            assert got is False
        else:
            assert got == v, (k, line)
    if p["proto"] == "TCP" and p["tcp_flags"] == "":
        assert r["tcp_flags"] == ""
    if ":" not in p["src"]:
        assert r["src_int"] == int(ipaddress.IPv4Address(p["src"]))


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packets(), st.sampled_from(FRAMINGS))
def test_round_trip_many(p: dict, framing: str) -> None:
    test_round_trip.hypothesis.inner_test(p, framing)


def test_generate_lines_is_deterministic_and_parses() -> None:
    a = list(generate_lines(3000, 42))
    assert a == list(generate_lines(3000, 42))
    assert a != list(generate_lines(3000, 43))
    rows, rej = run(a, ref=datetime(2025, 3, 2, tzinfo=UTC))
    reasons = set(rej.column("reason").to_pylist())
    assert reasons <= {"not a netfilter line"}
    assert 0.002 < rej.num_rows / len(a) < 0.03  # ~1 % junk
    df = pl.from_arrow(rows)
    assert df["host"].null_count() == 0
    assert set(df["proto"]) >= {"TCP", "UDP", "ICMP"}
    assert df["inner_src"].null_count() < df.height
    assert (df["family"] == 6).sum() > 0
    assert df["time"].min() >= datetime(2025, 3, 1, tzinfo=UTC) - timedelta(seconds=1)


# ------------------------------------------------------------------------------------------------
# issue 9: truncated lines, unknown framings, values the kernel cannot print, IN= in a prefix
# ------------------------------------------------------------------------------------------------

V6A = "2001:0db8:0000:0000:0000:0000:0000:0001"
V6B = "2001:0db8:0000:0000:0000:0000:0000:0002"
# Full lines written by hand in nf_log_syslog.c's format (every field "KEY=value ", so every
# kernel line ends with a space): TCP with options, UDP, ICMP echo, an ICMP error embedding the
# original header with MTU, a redirect, a parameter problem, ESP, an unknown protocol, a later
# fragment, and IPv6 TCP / UDP / ICMPv6 echo / ICMPv6 packet-too-big with its embedded header.
FULL = [
    "Mar  3 21:53:59 h1 kernel: [UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 "
    "SRC=1.2.3.4 DST=5.6.7.8 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=54321 DF PROTO=TCP SPT=52983 "
    "DPT=1121 WINDOW=29200 RES=0x00 SYN URGP=0 OPT (020405B40402080A) ",
    "Mar  3 21:54:00 h1 kernel: DROP IN=eth0 OUT= SRC=9.8.7.6 DST=5.6.7.8 LEN=1228 TOS=0x00 "
    "PREC=0x00 TTL=117 ID=4321 PROTO=UDP SPT=53124 DPT=1900 LEN=1208 ",
    "Mar  3 21:54:01 h1 kernel: DROP IN=eth0 OUT= SRC=9.8.7.6 DST=5.6.7.8 LEN=84 TOS=0x00 "
    "PREC=0x00 TTL=53 ID=61234 DF PROTO=ICMP TYPE=8 CODE=0 ID=31337 SEQ=12345 ",
    "Mar  3 21:54:02 h1 kernel: DROP IN=eth0 OUT= SRC=9.8.7.6 DST=5.6.7.8 LEN=576 TOS=0x00 "
    "PREC=0xC0 TTL=254 ID=7777 PROTO=ICMP TYPE=3 CODE=4 [SRC=5.6.7.8 DST=9.8.7.6 LEN=1500 "
    "TOS=0x00 PREC=0x00 TTL=63 ID=22458 DF PROTO=TCP SPT=443 DPT=51000 WINDOW=501 RES=0x00 ACK "
    "URGP=0 ] MTU=1492 ",
    "Mar  3 21:54:03 h1 kernel: DROP IN=eth0 OUT= SRC=9.8.7.6 DST=5.6.7.8 LEN=56 TOS=0x00 "
    "PREC=0xC0 TTL=64 ID=1000 PROTO=ICMP TYPE=5 CODE=1 GATEWAY=10.0.0.254 [SRC=5.6.7.8 "
    "DST=1.1.1.1 LEN=28 TOS=0x00 PREC=0x00 TTL=63 ID=2000 PROTO=UDP SPT=33000 DPT=53 LEN=8 ] ",
    "Mar  3 21:54:04 h1 kernel: DROP IN=eth0 OUT= SRC=9.8.7.6 DST=5.6.7.8 LEN=56 TOS=0x00 "
    "PREC=0x00 TTL=64 ID=1001 PROTO=ICMP TYPE=12 CODE=0 PARAMETER=20 ",
    "Mar  3 21:54:05 h1 kernel: DROP IN=eth0 OUT= SRC=9.8.7.6 DST=5.6.7.8 LEN=152 TOS=0x00 "
    "PREC=0x00 TTL=50 ID=1002 PROTO=ESP SPI=0xcb886522 MARK=0x1f00 ",
    "Mar  3 21:54:06 h1 kernel: DROP IN=eth0 OUT= SRC=9.8.7.6 DST=5.6.7.8 LEN=40 TOS=0x00 "
    "PREC=0x00 TTL=50 ID=1003 PROTO=47 ",
    "Mar  3 21:54:07 h1 kernel: DROP IN=eth0 OUT= SRC=9.8.7.6 DST=5.6.7.8 LEN=500 TOS=0x00 "
    "PREC=0x00 TTL=50 ID=1004 MF FRAG:185 PROTO=UDPLITE ",
    f"Mar  3 21:54:08 h1 kernel: DROP IN=eth0 OUT= SRC={V6A} DST={V6B} LEN=80 TC=0 HOPLIMIT=57 "
    "FLOWLBL=654321 PROTO=TCP SPT=40000 DPT=22 WINDOW=64800 RES=0x00 SYN URGP=0 UID=1000 GID=1000 ",
    f"Mar  3 21:54:09 h1 kernel: DROP IN=eth0 OUT= SRC={V6A} DST={V6B} LEN=76 TC=0 HOPLIMIT=57 "
    "FLOWLBL=0 PROTO=UDP SPT=5353 DPT=5353 LEN=36 ",
    f"Mar  3 21:54:10 h1 kernel: DROP IN=eth0 OUT= SRC={V6A} DST={V6B} LEN=104 TC=0 HOPLIMIT=64 "
    "FLOWLBL=1048575 PROTO=ICMPv6 TYPE=128 CODE=0 ID=4242 SEQ=17 ",
    f"Mar  3 21:54:11 h1 kernel: DROP IN=eth0 OUT= SRC={V6A} DST={V6B} LEN=1280 TC=0 HOPLIMIT=64 "
    f"FLOWLBL=0 PROTO=ICMPv6 TYPE=2 CODE=0 [SRC={V6B} DST={V6A} LEN=1500 TC=0 HOPLIMIT=63 "
    "FLOWLBL=0 PROTO=UDP SPT=4500 DPT=4500 LEN=1460 ] MTU=1280 ",
]


def _full_rows() -> list[dict]:
    rows, rej = run(FULL)
    assert rej.num_rows == 0, rej.column("text").to_pylist()
    return rows.to_pylist()


def _check_prefixes(full: list[str], cuts: list[list[int]]) -> int:
    """Every cut of every line, parsed among the full lines (a log whose lines keep the kernel's
    trailing space: fewer cut lines than whole ones in a block), is either rejected or exactly
    the full line's row. Returns the number of cuts that became rows."""
    want = {r["line"]: r for r in run(full)[0].to_pylist()}
    pending = [(i, k) for i, ks in enumerate(cuts) for k in ks]
    kept = 0
    step = max(len(full) - 1, 1)
    for at in range(0, len(pending), step):
        kept += _check_block(full, want, pending[at: at + step])
    return kept


def _check_block(full: list[str], want: dict, cuts: list[tuple[int, int]]) -> int:
    lines = list(full) + [full[i][:k] for i, k in cuts]
    origin = [i + 1 for i, _ in cuts]
    rows, _ = run(lines)
    kept = 0
    for r in rows.to_pylist():
        if r["line"] <= len(full):
            continue
        src = origin[r["line"] - len(full) - 1]
        got = {k: v for k, v in r.items() if k != "line"}
        exp = {k: v for k, v in want[src].items() if k != "line"}
        assert got == exp, (lines[r["line"] - 1], {k: (got[k], exp[k]) for k in got if got[k] != exp[k]})
        kept += 1
    return kept


@pytest.mark.slow
def test_every_prefix_of_full_lines_is_rejected_or_the_same_row() -> None:
    _full_rows()
    _check_prefixes(FULL, [_cuts(line) for line in FULL])


#: Optional tails: a rule's --log-tcp-options, --log-uid and a packet's mark. A line cut just
#: before one of them is, byte for byte, the whole line of a rule without it (or of an unmarked
#: packet), so no parser can tell it was cut: those cut points are left out.
OPTIONAL_TAILS = ("OPT (", "UID=", "MARK=")


#: A known leniency (README): a redirect's GATEWAY= and embedded header, and an ICMPv6 error's
#: embedded header, are not yet required (the fleet generator writes them without), so a line cut
#: just before them is accepted.
LENIENT_TAILS = ("GATEWAY=", "[")


def _cuts(line: str) -> list[int]:
    lenient = " TYPE=5 " in line or "PROTO=ICMPv6 TYPE=2 " in line
    return [k for k in range(line.index("IN="), len(line))
            if not (line[k - 1] == " " and (line[k:].startswith(OPTIONAL_TAILS)
                                            or (lenient and line[k:].startswith(LENIENT_TAILS))))]


@pytest.mark.slow  # more than 2 s on 2 cores; every prefix of these lines: the slow test above
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(FULL) - 1), st.floats(0, 1)), min_size=1, max_size=12))
def test_random_cuts_are_rejected_or_the_same_row(cuts: list[tuple[int, float]]) -> None:
    per: list[list[int]] = [[] for _ in FULL]
    for i, f in cuts:
        ks = _cuts(FULL[i])
        per[i].append(ks[min(int(f * len(ks)), len(ks) - 1)])
    _check_prefixes(FULL, per)


def test_truncated_examples_of_the_issue() -> None:
    tcp = FULL[0]
    lines = [tcp[: tcp.index("DPT=1121") + 6], tcp[: tcp.index("PROTO=TCP") + 7], FULL[1][:-3],
             FULL[3][: FULL[3].index(" MTU=")], FULL[2][: FULL[2].index(" SEQ=")]]
    _, rej = run(FULL + lines)
    assert rej.column("reason").to_pylist() == ["truncated"] * 5


def test_every_full_line_parses_to_its_fields() -> None:
    r = _full_rows()
    assert (r[0]["dpt"], r[0]["tcp_opt"], r[0]["ip_id"]) == (1121, "020405B40402080A", 54321)
    assert (r[1]["len"], r[1]["l4_len"]) == (1228, 1208)
    assert (r[2]["icmp_id"], r[2]["icmp_seq"]) == (31337, 12345)
    assert (r[3]["mtu"], r[3]["inner_dpt"], r[3]["spt"]) == (1492, 51000, None)
    assert (r[4]["icmp_type"], r[4]["inner_dst"]) == (5, "1.1.1.1")
    assert (r[6]["spi"], r[6]["mark"]) == (0xCB886522, 0x1F00)
    assert (r[7]["proto"], r[8]["proto"], r[8]["frag"]) == ("47", "UDPLITE", 185)
    assert (r[9]["uid"], r[10]["l4_len"], r[11]["flowlbl"], r[12]["mtu"]) == (1000, 36, 1048575, 1280)


@pytest.mark.parametrize("head", [
    "mar  3 21:53:59 h1 kernel: DROP ",  # lower-case month
    "2024/03/03 21:53:59 h1 kernel: DROP ",
    "Mar  3 2024 21:53:59 h1 kernel: DROP ",
    "Sun Mar  3 21:53:59 2024 h1 kern.warn kernel: DROP ",  # OpenWrt logread
    "[Sun Mar  3 21:53:59 2024] DROP ",  # dmesg -T
    "03.03.2024 21:53 h1 kernel: DROP ",
    "h1 kernel: DROP ",  # a host and tag but no stamp
    "Mar  3 21:53:59.123 h1 kernel: DROP ",
])
def test_unknown_framings_are_rejected_not_guessed(head: str) -> None:
    _, rej = run([head + BODY])
    assert rej.column("reason").to_pylist() == ["bad timestamp"]


def test_known_framings_without_a_clock_stay_rows() -> None:
    rows = rows_of([f"[ 3445.031964] DROP {BODY}", f"DROP {BODY}", BODY,
                    f"<4>[12.5] [UFW BLOCK] {BODY}", f"kernel: [1.5] DROP {BODY}"], sensor="s")
    assert [r["prefix"] for r in rows] == ["DROP", "DROP", None, "[UFW BLOCK]", "DROP"]
    assert {r["host"] for r in rows} == {"s"} and {r["time"] for r in rows} == {None}


def test_epoch_framing_of_dshield_sensors() -> None:
    # rsyslog "%timegenerated:::date-unixtimestamp% %HOSTNAME% %syslogtag%%msg%"
    (r,) = rows_of([f"1702359975 BigDshield kernel:[58063.594435]  DSHIELDINPUT {BODY}"])
    assert (r["time"], r["host"], r["uptime"], r["prefix"]) == (
        datetime(2023, 12, 12, 5, 46, 15, tzinfo=UTC), "BigDshield", 58063.594435, "DSHIELDINPUT")


@pytest.mark.parametrize("change,reason", [
    (("ID=1 ", "ID=65536 "), "bad value"),
    (("PROTO=TCP", "PROTO=-1"), "bad value"),
    (("PROTO=TCP", "PROTO=abc"), "bad value"),
    (("PROTO=TCP", "PROTO=1.5"), "bad value"),
    (("PROTO=TCP", "PROTO=006"), "bad value"),
    (("SPT=1234", "SPT=+5"), "port out of range"),
    (("DPT=23", "DPT=007"), "port out of range"),
    (("TTL=50", "TTL=-0"), "bad value"),
    (("WINDOW=1024", "WINDOW=01024"), "bad value"),
    (("TOS=0x00", "TOS=-0x1"), "bad value"),
    (("SRC=1.2.3.4", "SRC=01.2.3.4"), "bad address"),
    (("DPT=23", "DPT=23 DPT=80"), "conflicting values"),
    (("LEN=40", "LEN=65536"), "bad value"),
])
def test_values_the_kernel_cannot_print_are_rejected(change: tuple[str, str], reason: str) -> None:
    _, rej = run([BODY.replace(*change, 1)])
    assert rej.column("reason").to_pylist() == [reason]


def test_ipv6_ranges_and_same_key_twice_with_the_same_value() -> None:
    line = FULL[11]
    _, rej = run([line.replace("FLOWLBL=1048575", "FLOWLBL=1048576"),
                  line.replace("PROTO=ICMPv6 TYPE=128", "PROTO=ICMPv6 SEQ=17 TYPE=128")])
    assert rej.column("reason").to_pylist() == ["bad value"]  # (SEQ=17 twice agrees: kept)


def test_icmp_without_type_and_years_out_of_range() -> None:
    _, rej = run([FULL[2].replace("TYPE=8 CODE=0 ", ""),
                  BODY.replace("IN=", "0001-01-01T00:00:00Z h kernel: IN=", 1),
                  "9999-12-31T23:59:59Z h kernel: " + BODY,
                  '{"__REALTIME_TIMESTAMP":"253402300799000000","MESSAGE":"' + BODY + '"}'])
    assert rej.column("reason").to_pylist() == ["truncated"] + ["bad timestamp"] * 3
    (r,) = rows_of(["2099-12-31T23:59:59Z h kernel: " + BODY, ])
    assert r["time"].year == 2099


def test_bad_auxiliary_field_keeps_the_packet_with_a_warning() -> None:
    ctx = ParseContext(source="t", reference_time=REF)
    res = parse_block(pa.array([FULL[2].replace("ID=31337", "ID=98765"), FULL[6].replace(
        "MARK=0x1f00", "MARK=0x1ffffffff"), FULL[2]]), 1, ctx)
    r = res.rows.to_pylist()
    assert len(r) == 3 and res.rejects.num_rows == 0
    assert (r[0]["icmp_id"], r[0]["icmp_seq"], r[1]["mark"], r[1]["spi"]) == (None, 12345, None, 0xCB886522)
    assert res.warnings == {"bad icmp_id": 1, "bad mark": 1}


@pytest.mark.parametrize("head,host,prefix", [
    ("Mar  3 21:53:59 h1 kernel: ADMIN=x DROP ", "h1", "ADMIN=x DROP"),
    ("Mar  3 21:53:59 h1 kernel: [LOGIN=fail]", "h1", "[LOGIN=fail]"),
    ("Mar  3 21:53:59 MAIN=gw kernel: DROP ", "MAIN=gw", "DROP"),
    ("Mar  3 21:53:59 h1 kernel: IN=x OUT DROP ", "h1", "IN=x OUT DROP"),
])
def test_in_inside_a_prefix_or_host(head: str, host: str, prefix: str) -> None:
    (r,) = rows_of([head + BODY])
    assert (r["host"], r["prefix"], r["in_iface"], r["dpt"]) == (host, prefix, "eth0", 23)


def test_ingest_ledger_counts_the_warnings(tmp_path) -> None:
    import honeyscope

    log = tmp_path / "kern.log"
    log.write_text(FULL[2].replace("ID=31337", "ID=98765") + "\n" + FULL[2] + "\n")
    led = honeyscope.ingest([log], tmp_path / "store", year=2025).to_dict()
    assert (led["rows"], led["rejected_total"]) == (2, 0)
    assert led["field_warnings"] == {"bad icmp_id": 1}
    assert led["inputs"][0]["field_warnings"] == {"bad icmp_id": 1}
