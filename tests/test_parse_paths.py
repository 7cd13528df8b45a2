"""The two parse paths: the compiled one (numbers decoded by numba straight from the line bytes) and
the numpy one (small blocks, or no numba). Both give the values written by hand below, for every
framing, and the same rows, rejects and warnings on generated and mangled lines."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from honeyscope.ingest import parse
from honeyscope.ingest.parse import ParseContext, parse_block
from honeyscope.synth.lines import generate_lines

pytest.importorskip("numba")

REF = datetime(2025, 6, 1, 12, tzinfo=UTC)
MAC = "MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 "
TCP = ("IN=eth0 OUT= " + MAC + "SRC=1.2.3.4 DST=5.6.7.8 LEN=60 TOS=0x10 PREC=0x20 TTL=51 ID=54321 "
       "DF PROTO=TCP SPT=40000 DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0 ")
V6 = ("IN=eth0 OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 "
      "DST=fe80:0000:0000:0000:0000:0000:0000:00ff LEN=104 TC=0 HOPLIMIT=64 FLOWLBL=12345 "
      "PROTO=ICMPv6 TYPE=128 CODE=0 ID=4660 SEQ=7 ")
ICMP_ERR = ("IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=576 TOS=0x00 PREC=0xC0 TTL=64 ID=1 "
            "PROTO=ICMP TYPE=3 CODE=3 [SRC=10.0.0.2 DST=10.0.0.1 LEN=48 TOS=0x00 PREC=0x00 TTL=63 "
            "ID=2 PROTO=UDP SPT=53 DPT=4444 LEN=28 ] ")
UDP = ("IN=eth1 OUT= SRC=192.168.255.254 DST=0.0.0.0 LEN=33 TOS=0x00 PREC=0x00 TTL=1 ID=0 "
       "PROTO=UDP SPT=0 DPT=65535 LEN=13 ")


def _us(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


# (line, expected values written from the kernel's format and a calendar, not from a run)
CASES = [
    (f"Mar  3 21:53:59 hp1 kernel: [12.5] DROP {TCP}",
     dict(host="hp1", time=_us(2025, 3, 3, 21, 53, 59), uptime=12.5, prefix="DROP", action="drop",
          src="1.2.3.4", src_int=0x01020304, dst_int=0x05060708, family=4, proto="TCP", spt=40000,
          dpt=22, len=60, tos=16, prec=32, ttl=51, ip_id=54321, df=True, window=29200, res=0,
          urgp=0, tcp_flags="SYN", mac_dst="00:11:22:33:44:55", mac_src="66:77:88:99:aa:bb",
          ethertype=0x0800, in_iface="eth0", out_iface=None)),
    (f"<4>Dec 31 23:59:59 hp1 kernel: ACCEPT {TCP}",  # Dec 31 after the June reference: 2024
     dict(host="hp1", time=_us(2024, 12, 31, 23, 59, 59), action="accept", dpt=22)),
    (f"2025-04-28T04:26:10.353484+02:00 hp2 kernel: {V6}",
     dict(host="hp2", time=datetime(2025, 4, 28, 2, 26, 10, 353484, tzinfo=UTC), family=6,
          src="2001:db8::1", dst="fe80::ff", src_int=None, len=104, ttl=64, tos=0,
          flowlbl=12345, proto="ICMPv6", icmp_type=128, icmp_code=0, icmp_id=4660, icmp_seq=7,
          action="unknown")),
    (f"Mar 3 21:53:59 kernel: [  842.134908] [UFW BLOCK] {UDP}",
     dict(host="sensorX", time=_us(2025, 3, 3, 21, 53, 59), uptime=842.134908,
          prefix="[UFW BLOCK]", action="drop", src_int=0xC0A8FFFE, dst="0.0.0.0", dst_int=0,
          spt=0, dpt=65535, l4_len=13, ttl=1, ip_id=0, in_iface="eth1")),
    (f"Mar  3 21:53:59 hp4 REJECT-IN {ICMP_ERR}",  # no kernel: tag
     dict(host="hp4", prefix="REJECT-IN", action="reject", proto="ICMP", icmp_type=3,
          icmp_code=3, prec=0xC0, inner_src="10.0.0.2", inner_dst="10.0.0.1", inner_proto="UDP",
          inner_spt=53, inner_dpt=4444, inner_len=48, inner_ttl=63, inner_ip_id=2, spt=None)),
    (f"[ 3445.031964] Shorewall:net2fw:DROP:{TCP}",  # dmesg: no clock, no host
     dict(host="sensorX", time=None, uptime=3445.031964, prefix="Shorewall:net2fw:DROP:",
          action="drop", dpt=22)),
    ('{"__REALTIME_TIMESTAMP":"1714276000000001","_HOSTNAME":"jh","MESSAGE":"DROP ' + TCP + '"}',
     dict(host="jh", time=datetime(2024, 4, 28, 3, 46, 40, 1, tzinfo=UTC), prefix="DROP",
          spt=40000)),
    (f"kern.log.1:Mar  3 21:53:59 hp3 kernel: [WAN_LOCAL-default-D]{TCP}",  # grep artefact
     dict(host="hp3", time=_us(2025, 3, 3, 21, 53, 59), action="drop", ttl=51)),
    (f"1702359975 BigDshield kernel:[58063.594435]  DSHIELDINPUT {TCP}",  # rsyslog epoch stamp
     dict(host="BigDshield", time=_us(2023, 12, 12, 5, 46, 15), uptime=58063.594435,
          prefix="DSHIELDINPUT", window=29200)),
    # protocols nf_log prints by number, their header not dumped: GRE (47), IGMP (2), IPv6 SCTP
    ("May 15 00:01:04 vultr kernel: [640081.720707] [UFW BLOCK] IN=ens3 OUT=ens3 MAC=56:00:03:85:82:"
     "df:fe:00:03:85:82:df:08:00 SRC=151.226.178.54 DST=158.247.200.34 LEN=564 TOS=0x00 PREC=0x00 "
     "TTL=49 ID=47352 DF PROTO=47 ",
     dict(host="vultr", time=_us(2025, 5, 15, 0, 1, 4), uptime=640081.720707, family=4, proto="47",
          src_int=0x97E2B236, dst_int=0x9EF7C822, len=564, ttl=49, ip_id=47352, df=True, spt=None,
          dpt=None, icmp_type=None, window=None, tcp_flags=None, in_iface="ens3", out_iface="ens3",
          mac_dst="56:00:03:85:82:df", ethertype=0x0800, action="drop")),
    ("2025-01-23T12:22:21.537693-05:00 ubuntu2204 kernel: [UFW BLOCK] IN=enp0s3 OUT= SRC=192.168.1.1 "
     "DST=224.0.0.1 LEN=28 TOS=0x00 PREC=0x00 TTL=1 ID=0 DF PROTO=2 MARK=0x1 ",
     dict(host="ubuntu2204", time=datetime(2025, 1, 23, 17, 22, 21, 537693, tzinfo=UTC), proto="2",
          dst_int=0xE0000001, ttl=1, ip_id=0, mark=1, spt=None)),
    ("Mar  3 21:53:59 hp6 kernel: DROP IN=eth0 OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 "
     "DST=2001:0db8:0000:0000:0000:0000:0000:0002 LEN=72 TC=0 HOPLIMIT=63 FLOWLBL=0 PROTO=132 ",
     dict(host="hp6", family=6, proto="132", len=72, ttl=63, src="2001:db8::1", spt=None)),
]
# (line, reason): values nf_log never prints
REJECTS = [
    (TCP.replace("DPT=22", "DPT=022"), "port out of range"),
    (TCP.replace("SPT=40000", "SPT=65536"), "port out of range"),
    (TCP.replace("TTL=51", "TTL=256"), "bad value"),
    (TCP.replace("TOS=0x10", "TOS=0x100"), "bad value"),
    (TCP.replace("ID=54321", "ID=65536"), "bad value"),
    (TCP.replace("WINDOW=29200", "WINDOW="), "bad value"),
    (TCP.replace("DPT=22", "DPT=22 DPT=23"), "conflicting values"),
    (TCP.replace("SRC=1.2.3.4", "SRC=1.2.3.256"), "bad address"),
    (UDP.split(" PROTO=")[0] + " PROTO=256 ", "bad value"),
    (UDP.split(" PROTO=")[0] + " PROTO=047 ", "bad value"),
    ("Feb 30 10:00:00 h kernel: " + TCP, "bad timestamp"),
    ("", "blank line"),
    ("hello world", "not a netfilter line"),
]


@pytest.fixture(params=["compiled", "numpy", "fast"])
def path(request, monkeypatch) -> str:
    if request.param == "fast":  # the C fast path where built (see test_parse_fast.py), numba after it
        monkeypatch.setattr(parse, "FALLBACK_KERNEL_MIN_LINES", 0)
        monkeypatch.setattr(parse, "KERNEL_MIN_LINES", 0)
        return request.param
    monkeypatch.setattr(parse, "KERNEL_MIN_LINES", 0 if request.param == "compiled" else 10**9)
    monkeypatch.setenv("HONEYSCOPE_PARSE_FALLBACK", "1")
    return request.param


def _parse(lines: list[str], **kw) -> parse.ParseResult:
    ctx = ParseContext(source="t", reference_time=REF, sensor="sensorX", **kw)
    return parse_block(pa.array(lines, pa.string()), 1, ctx)


def test_every_framing_gives_the_values_written_by_hand(path: str) -> None:
    res = _parse([line for line, _ in CASES])
    assert res.rejects.num_rows == 0, res.rejects.to_pylist()
    for row, (line, want) in zip(res.rows.to_pylist(), CASES, strict=True):
        assert {k: row[k] for k in want} == want, line


def test_values_nf_log_never_prints_are_rejected_for_the_same_reason(path: str) -> None:
    res = _parse([line for line, _ in REJECTS])
    assert res.rows.num_rows == 0
    assert res.rejects.column("reason").to_pylist() == [r for _, r in REJECTS]
    assert res.rejects.column("line").to_pylist() == list(range(1, len(REJECTS) + 1))


def test_auxiliary_values_leave_a_warning(path: str) -> None:
    ping = ("IN=eth0 OUT= SRC=1.1.1.1 DST=2.2.2.2 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=9 DF "
            "PROTO=ICMP TYPE=8 CODE=0 ID={} SEQ={} ")
    res = _parse([ping.format(65536, 1), ping.format(7, "01"), ping.format(7, 8)])
    assert [(r["icmp_id"], r["icmp_seq"]) for r in res.rows.to_pylist()] == [
        (None, 1), (7, None), (7, 8)]
    assert res.warnings == {"bad icmp_id": 1, "bad icmp_seq": 1}


def test_scan_decodes_numbers_as_the_kernel_prints_them() -> None:
    kernel = pytest.importorskip("honeyscope.ingest.parse_kernel")
    vals = ["0", "00", "7", "65535", "-1", "+1", "1a", "", "0x1F", "0X10", "1f", "0x", "99999999999999"]
    lines = [f"IN=e OUT= TTL={v} TOS={v}" for v in vals] + ["IN=e OUT= LEN=1"]
    arr = pa.array(lines, pa.large_string())

    sc = kernel.scan(arr, np.zeros(len(lines), np.int64))
    (dec, tos), (ok_dec, ok_tos) = sc.integers_of([("t_ttl", False), ("t_tos", True)])
    got_dec = [int(v) if ok else None for v, ok in zip(dec, ok_dec, strict=True)]
    got_hex = [int(v) if ok else None for v, ok in zip(tos, ok_tos, strict=True)]
    assert got_dec[:12] == [0, None, 7, 65535, None, None, None, None, None, None, None, None]
    assert got_dec[12] >= 2**40 and got_dec[13] is None  # saturated (out of every range); absent
    assert got_hex[:12] == [0, 0, 7, 0x65535, None, None, 0x1A, None, 0x1F, 0x10, 0x1F, None]
    assert got_hex[12] >= 2**40 and got_hex[13] is None  # saturated; absent


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31), cuts=st.lists(st.tuples(st.integers(0, 199), st.floats(0, 1)),
                                                 max_size=20),
       year=st.sampled_from([None, 2024]))
def test_both_paths_agree_on_generated_and_mangled_lines(seed, cuts, year, monkeypatch) -> None:
    monkeypatch.setenv("HONEYSCOPE_PARSE_FALLBACK", "1")
    lines = list(generate_lines(200, seed))
    for i, f in cuts:  # cut lines anywhere: truncation rules, dangling values
        lines[i] = lines[i][: int(len(lines[i]) * f)]
    out = []
    for limit in (0, 10**9):
        monkeypatch.setattr(parse, "KERNEL_MIN_LINES", limit)
        out.append(_parse(lines, year=year))
    a, b = out
    assert a.rows.equals(b.rows)
    assert a.rejects.equals(b.rejects)
    assert a.warnings == b.warnings
