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
            "ACK URGP=0 ] MTU=1400 UID=5 MARK=0x1f ")
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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_become_rows_or_rejects(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    run([text, "IN=eth0 OUT= " + text, BODY + text])


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


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packets(), st.sampled_from(FRAMINGS))
def test_round_trip(p: dict, framing: str) -> None:
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
