"""The compiled fast path of parse_block (ingest/_fastparse.c): it claims the ordinary lines of a
block, and the block's rows, rejects and warnings are the general path's, byte for byte, whatever
the lines (hand-written, generated, mangled), the zone and the trailing-space vote."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from honeyscope.ingest import parse_fast
from honeyscope.ingest.parse import ParseContext, parse_block
from honeyscope.synth.lines import generate_lines

if parse_fast._fastparse is None:
    pytest.skip("the compiled parser (honeyscope.ingest._fastparse) is not built: "
                "run `pip install -e .` with a C compiler", allow_module_level=True)

REF = datetime(2025, 6, 1, 12, tzinfo=UTC)
MAC = "MAC=00:11:22:33:44:55:66:77:88:99:AA:bb:08:00"
TCP = ("IN=eth0 OUT= {mac} SRC=1.2.3.4 DST=5.6.7.8 LEN=60 TOS=0x10 PREC=0x20 TTL=51 ID=54321 DF "
       "PROTO=TCP SPT={spt} DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0 ")
TCP_OPT = ("IN=eth0 OUT= SRC=9.9.9.9 DST=5.6.7.8 LEN=44 TOS=0x00 PREC=0x00 TTL=240 ID=0 PROTO=TCP "
           "SPT=1 DPT=80 SEQ=4294967295 ACK=0 WINDOW=1024 RES=0x00 ACK PSH URGP=0 OPT (020405B4) "
           "UID=0 GID=0 MARK=0x1f ")
UDP = ("IN=eth1 OUT= SRC=192.168.255.254 DST=0.0.0.0 LEN=33 TOS=0x00 PREC=0x00 TTL=1 ID=0 "
       "PROTO=UDP SPT=0 DPT=65535 LEN=13 ")
PING = ("IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=7 "
        "PROTO=ICMP TYPE=8 CODE=0 ID=4660 SEQ=1 ")
V6 = ("IN=eth0 OUT= SRC=2001:0db8:0000:0000:0001:0000:0000:0001 "
      "DST=fe80:0000:0000:0000:0000:0000:0000:00FF LEN=104 TC=0 HOPLIMIT=64 FLOWLBL=12345 "
      "PROTO=ICMPv6 TYPE=128 CODE=0 ID=4660 SEQ=7 ")
ICMP_ERR = ("IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=576 TOS=0x00 PREC=0xC0 TTL=64 ID=1 "
            "PROTO=ICMP TYPE=3 CODE=4 [SRC=10.0.0.2 DST=10.0.0.1 LEN=48 TOS=0x00 PREC=0x00 TTL=63 "
            "ID=2 DF PROTO=UDP SPT=53 DPT=4444 LEN=28 ] MTU=1400 ")
V6_ERR = ("IN=eth0 OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0002 "
          "DST=2001:0db8:0000:0000:0000:0000:0000:0003 LEN=120 TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=ICMPv6 "
          "TYPE=1 CODE=4 [SRC=2001:0db8:0000:0000:0000:0000:0000:0003 "
          "DST=2001:0db8:0000:0000:0000:0000:0000:0009 LEN=72 TC=0 HOPLIMIT=63 FLOWLBL=0 PROTO=icmpv6 "
          "TYPE=128 CODE=0 ID=1 SEQ=2 ] ")
V6_UDP = ("IN=eth0 OUT= SRC=0000:0000:0000:0000:0000:0000:0000:0001 "
          "DST=2001:0db8:0000:0001:0000:0000:0000:0000 LEN=60 TC=0 HOPLIMIT=1 FLOWLBL=0 "
          "PROTO=UDP SPT=5353 DPT=5353 LEN=20 ")
# a protocol nf_log prints by its number, its header not dumped (GRE)
GRE = ("IN=eth0 OUT=eth0 SRC=151.226.178.54 DST=158.247.200.34 LEN=564 TOS=0x00 PREC=0x00 TTL=49 "
       "ID=47352 DF PROTO=47 ")


def _ordinary() -> list[str]:
    """Lines nf_log and common syslog daemons write, in the framings the fast path reads."""
    out = []
    for i in range(5):
        tcp = TCP.format(mac=MAC, spt=40000 + i)
        out += [
            f"Mar  3 21:53:5{i} hp1 kernel: [12.5] DROP {tcp}",
            f"<4>Dec 31 23:59:59 hp1 kernel: [UFW BLOCK] {tcp}",
            f"Mar 13 01:00:0{i} hp2 {UDP}",
            f"2025-04-28T04:26:10.35348{i}+02:00 hp2 kernel: [842.134908] {V6}",
            f"2025-04-28 04:26:10Z hp3 kernel: ACCEPT {PING}",
            f"Feb 29 10:00:00 hp4 kernel: {TCP_OPT}",  # (no Feb 29 in 2025: the latest leap year)
            f"Jan  1 00:00:00 kernel: REJECT {V6_UDP}",
            f'{{"__REALTIME_TIMESTAMP":"171427600000000{i}","_HOSTNAME":"jh","PRIORITY":"4",'
            f'"MESSAGE":"kernel: [1.0] DROP {UDP}"}}',
            f"Mar  4 00:00:0{i} hp5 kernel: {ICMP_ERR}",
            f"2025-03-04T00:00:0{i}Z hp5 kernel: {V6_ERR}",
            f"Mar  4 00:00:0{i} hp6 kernel: [UFW BLOCK] {GRE}",
            f"169950169{i}.5 BigDshield kernel:[50987.745307]  DSHIELDINPUT {UDP}",
        ]
    return out


def _ctx(**kw) -> ParseContext:
    return ParseContext(source="t", reference_time=REF, sensor="sensorX", **kw)


def _both(lines: list[str], monkeypatch: pytest.MonkeyPatch, **kw):
    arr = pa.array(lines, pa.string())
    monkeypatch.delenv(parse_fast.FALLBACK_ENV, raising=False)
    fast = parse_block(arr, 7, _ctx(**kw))
    monkeypatch.setenv(parse_fast.FALLBACK_ENV, "1")
    slow = parse_block(arr, 7, _ctx(**kw))
    monkeypatch.delenv(parse_fast.FALLBACK_ENV)
    return fast, slow


def _same(fast, slow) -> None:
    assert fast.rows.schema == slow.rows.schema
    for name in fast.rows.column_names:
        assert fast.rows.column(name).equals(slow.rows.column(name)), name
    assert fast.rejects.equals(slow.rejects)
    assert fast.warnings == slow.warnings


def test_fast_path_claims_ordinary_lines_and_gives_the_general_paths_table(monkeypatch) -> None:
    lines = _ordinary()
    got = parse_fast.claim(pa.array(lines, pa.string()), 1, _ctx())
    assert got is not None
    rows, rejects, claimed, spaced, year = got
    assert year is None  # (no --year: the pass wrote every time)
    assert claimed.mean() >= 0.9, [ln for ln, c in zip(lines, claimed, strict=True) if not c]
    assert spaced and rows.num_rows == int(claimed.sum()) and rejects.num_rows == 0
    fast, slow = _both(lines, monkeypatch)
    _same(fast, slow)
    assert fast.rows.num_rows == len(lines) and fast.rejects.num_rows == 0


def test_fast_rows_hold_the_values_of_the_kernels_format() -> None:
    lines = _ordinary()[:12]
    got = parse_fast.claim(pa.array(lines, pa.string()), 1, _ctx())
    assert got is not None and got[2].all()
    r = got[0].to_pylist()
    # (values from the lines above, the kernel's format and a calendar)
    assert (r[0]["time"], r[0]["uptime"], r[0]["host"], r[0]["prefix"], r[0]["action"]) == (
        datetime(2025, 3, 3, 21, 53, 50, tzinfo=UTC), 12.5, "hp1", "DROP", "drop")
    assert (r[0]["src_int"], r[0]["mac_src"], r[0]["ethertype"], r[0]["tos"], r[0]["df"]) == (
        0x01020304, "66:77:88:99:aa:bb", 0x0800, 16, True)
    assert r[1]["time"] == datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)  # after the reference
    assert (r[2]["dst"], r[2]["dst_int"], r[2]["l4_len"], r[2]["prefix"], r[2]["tcp_flags"]) == (
        "0.0.0.0", 0, 13, None, None)
    assert (r[3]["time"], r[3]["src"], r[3]["dst"], r[3]["family"], r[3]["flowlbl"]) == (
        datetime(2025, 4, 28, 2, 26, 10, 353480, tzinfo=UTC), "2001:db8::1:0:0:1", "fe80::ff", 6,
        12345)
    assert (r[4]["time"], r[4]["icmp_id"], r[4]["icmp_seq"], r[4]["action"]) == (
        datetime(2025, 4, 28, 4, 26, 10, tzinfo=UTC), 4660, 1, "accept")
    assert (r[5]["time"], r[5]["tcp_seq"], r[5]["tcp_ack"], r[5]["tcp_flags"], r[5]["tcp_opt"],
            r[5]["mark"], r[5]["uid"]) == (
        datetime(2024, 2, 29, 10, tzinfo=UTC), 2**32 - 1, 0, "ACK PSH", "020405B4", 31, 0)
    assert (r[6]["host"], r[6]["src"], r[6]["dst"], r[6]["time"]) == (
        "sensorX", "::1", "2001:db8:0:1::", datetime(2025, 1, 1, tzinfo=UTC))
    assert (r[7]["host"], r[7]["time"], r[7]["uptime"], r[7]["prefix"], r[7]["l4_len"]) == (
        "jh", datetime(2024, 4, 28, 3, 46, 40, tzinfo=UTC), 1.0, "DROP", 13)
    assert {k: r[8][k] for k in ("icmp_type", "icmp_code", "mtu", "inner_src", "inner_dst", "inner_proto",
                                 "inner_spt", "inner_dpt", "inner_len", "inner_ttl", "inner_ip_id",
                                 "spt", "l4_len", "prec")} == dict(
        icmp_type=3, icmp_code=4, mtu=1400, inner_src="10.0.0.2", inner_dst="10.0.0.1",
        inner_proto="UDP", inner_spt=53, inner_dpt=4444, inner_len=48, inner_ttl=63, inner_ip_id=2,
        spt=None, l4_len=None, prec=0xC0)
    assert {k: r[9][k] for k in ("src", "inner_src", "inner_dst", "inner_proto", "inner_ttl",
                                 "inner_icmp_type", "inner_icmp_code", "icmp_id", "time")} == dict(
        src="2001:db8::2", inner_src="2001:db8::3", inner_dst="2001:db8::9", inner_proto="ICMPv6",
        inner_ttl=63, inner_icmp_type=128, inner_icmp_code=0, icmp_id=None,
        time=datetime(2025, 3, 4, tzinfo=UTC))
    assert {k: r[10][k] for k in ("proto", "src_int", "dst_int", "len", "ttl", "ip_id", "df", "spt",
                                  "dpt", "icmp_type", "window", "out_iface", "action")} == dict(
        proto="47", src_int=0x97E2B236, dst_int=0x9EF7C822, len=564, ttl=49, ip_id=47352, df=True,
        spt=None, dpt=None, icmp_type=None, window=None, out_iface="eth0", action="drop")
    # epoch 1699501690.5: 2023-11-09 03:48:10.5 UTC (1699488000 is 2023-11-09 00:00 UTC + 13690 s)
    assert (r[11]["time"], r[11]["host"], r[11]["uptime"], r[11]["prefix"], r[11]["dpt"]) == (
        datetime(2023, 11, 9, 3, 48, 10, 500000, tzinfo=UTC), "BigDshield", 50987.745307,
        "DSHIELDINPUT", 65535)


def test_lines_the_fast_path_leaves_keep_their_place_and_reason(monkeypatch) -> None:
    ok = _ordinary()[:7]
    bad = [
        "Mar  3 21:53:59 hp1 kernel: " + TCP.format(mac=MAC, spt="040000"),  # leading zero
        "Feb 30 10:00:00 h kernel: " + UDP,  # no such day
        "Mar  3 21:53:59 hp1 kernel: " + TCP.format(mac=MAC, spt=1)[:-25],  # cut
        "Mar  3 21:53:59 hp1 sshd[1]: Invalid user admin",
        "Mar  3 21:53:59 hp1 kernel: " + PING.replace("ID=4660", "ID=70000"),  # warning
        "",
    ]
    lines = [x for pair in zip(ok, bad, strict=False) for x in pair] + ok[len(bad):]
    fast, slow = _both(lines, monkeypatch)
    _same(fast, slow)
    assert fast.rejects.column("line").to_pylist() == [8, 10, 12, 14, 18]  # (first line: 7)
    assert fast.warnings == {"bad icmp_id": 1}
    # the line without a netfilter body is claimed as a reject, with its header's host and time
    got = parse_fast.claim(pa.array(lines, pa.string()), 7, _ctx())
    assert got is not None
    assert got[1].select(["line", "reason", "host", "time"]).to_pylist() == [dict(
        line=14, reason="not a netfilter line", host="hp1",
        time=datetime(2025, 3, 3, 21, 53, 59, tzinfo=UTC))]


@pytest.mark.parametrize("tz", ["UTC", "Europe/Paris", "America/New_York"])
def test_zones_and_the_trailing_space_vote_as_the_general_path(tz: str, monkeypatch) -> None:
    lines = _ordinary()
    # a clock that does not exist in Paris (spring forward) and one that exists twice
    lines += [f"Mar 30 02:30:00 hp1 kernel: {UDP}", f"Oct 26 02:30:00 hp1 kernel: {UDP}",
              f"2025-03-30T02:30:00 hp1 kernel: {UDP}"]
    stripped = [ln.rstrip(" ") for ln in lines]
    for block in (lines, stripped, lines[:10] + stripped[10:], stripped[:10] + lines[10:]):
        fast, slow = _both(block, monkeypatch, tz=tz)
        _same(fast, slow)


_LEADS = ["", "<4>", "<13>", "<1234>", "x:"]
_STAMPS = ["Mar  3 21:53:59", "Mar 3 21:53:59", "Feb 29 00:00:00", "Dec 31 23:59:60", "Jun  1 12:00:01",
           "Jan 00 00:00:00", "Mar 30 02:30:00", "Abc  3 21:53:59", "Mar 03 00:99:00",
           "2025-04-28T04:26:10.353484+02:00", "2025-04-28 04:26:10", "2025-04-28T04:26:10Z",
           "2025-04-28T04:26:10.1+00:00", "2025-02-29T04:26:10Z", "2025-04-28T04:26:10+0200",
           # epoch seconds (DShield's rsyslog template): fractions, 8 and 11 digits, past 2099
           "1699501699", "1699501699.123456", "999999999.5", "1699501699.1234567", "1699501699.",
           "16995016990", "99999999", "4102444799.999999", "4102444800", "1699501699\t",
           "2025-04-28T04:26:10.1234567Z", "1969-12-31T23:59:59Z", "2100-01-01T00:00:00Z",
           "2025-10-26T02:30:00"]
_HEADS = ["hp1 kernel: ", "hp1 kernel: [12.5] ", "hp1 kernel: [  842.134908] [UFW BLOCK] ", "hp1 ",
          "kernel: DROP ", "hp1 kernel[0]: ", "hp1 kernel:[1.0]DROP ", "[1.5] ACCEPT ", "hp1 PASS-IN ",
          "hp1 kernel: LOGIN=x ", "hp1 kernel: [WAN_LOCAL-default-D]"]
_VALUES = {"LEN=60": ["LEN=65536", "LEN=65575", "LEN=0"], "TTL=51": ["TTL=256", "TTL=0", "TTL=01"],
           "SPT=40000": ["SPT=65536", "SPT=0", "SPT=", "SPT=4x"], "TOS=0x10": ["TOS=0xFF", "TOS=0x100"],
           "SRC=1.2.3.4": ["SRC=1.2.3.04", "SRC=2001:db8::1", "SRC=::ffff:1.2.3.4", "SRC=1.2.3"],
           "DST=5.6.7.8": ["DST=2001:0db8:0000:0000:0000:0000:0000:0001", "DST=256.1.1.1"],
           "PROTO=TCP": ["PROTO=tcp", "PROTO=6", "PROTO=UDP", "PROTO=ICMP"],
           "PROTO=47 ": ["PROTO=047 ", "PROTO=256 ", "PROTO=255 ", "PROTO=0 ", "PROTO=4x ", "PROTO=47",
                         "PROTO=47 SPT=1 DPT=2 ", "PROTO=47 TYPE=1 CODE=0 ", "PROTO=47 MARK=0x1 ",
                         "PROTO=47 UID=0 GID=0 ", "PROTO=47 WINDOW=1 ", "PROTO=47 SYN ",
                         "PROTO=47 [SRC=1.1.1.1 DST=1.1.1.2 ] ", "PROTO=1 ", "PROTO=58 "],
           "DF ": ["", "DF DF ", "CE MF "], "SYN ": ["", "SYN FIN ", "ACK SYN "],
           "URGP=0 ": ["URGP=0 OPT (0204) ", "URGP=0 OPT ( ", "URGP=0 UID=1 ", "URGP=0 MARK=0x ",
                       "URGP=0 [SRC=1.1.1.1] ", "URGP=0 SEQ=5 ", "URGP=01 "],
           "MAC=00:11:22:33:44:55:66:77:88:99:AA:bb:08:00": ["MAC=", "MAC=00:11", "MAC=é"],
           "ID=54321": ["ID=65536", "ID=1 FRAG=8"], "DPT=22": ["DPT=22 DPT=22", "DPT=22 DPT=23"],
           "CODE=4 [": ["CODE=3 [", "CODE=4 ", "CODE=4 [[", "CODE=4 [ "],
           "DPT=4444 LEN=28 ]": ["DPT=70000 LEN=28 ]", "DPT=4444 LEN=28]", "DPT=4444]", "DPT=4444",
                                 "DPT=4444 HOPLIMITS ]", "DPT=4444 ] ] "],
           "MTU=1400 ": ["", "MTU=01 ", "MTU=1400 UID=0 GID=0 ", "MTU=1400 MTU=1 ", "MTU=1400 SPT=1 "],
           "SRC=10.0.0.2": ["SRC=10.0.0.02", "SRC=::1", "SRC="], "TTL=63": ["TTL=63 HOPLIMIT=5", "TTL=300"],
           "PROTO=icmpv6": ["PROTO=ICMPv6", "PROTO=", "PROTO=58"],
           "TYPE=1 ": ["TYPE=2 ", "TYPE=4 ", "TYPE=3 "]}


@st.composite
def _line(draw) -> str:
    body = draw(st.sampled_from([TCP.format(mac=MAC, spt=40000), UDP, PING, V6, V6_UDP, TCP_OPT, ICMP_ERR,
                                 GRE, V6_ERR, "sshd[1]: Invalid user admin", "LOGIN=x OUT=", "a IN=b", " ",
                                 "ADMIN=x " * 600]))
    for old, news in _VALUES.items():
        if old in body and draw(st.integers(0, 5)) == 0:
            body = body.replace(old, draw(st.sampled_from(news)), 1)
    line = draw(st.sampled_from(_LEADS)) + draw(st.sampled_from(_STAMPS)) + " " + draw(
        st.sampled_from(_HEADS)) + body
    if draw(st.integers(0, 9)) == 0:
        line = line[: draw(st.integers(0, len(line)))]
    if draw(st.integers(0, 9)) == 0:
        line = line.rstrip(" ") + draw(st.sampled_from(["", "\r", "  ", "\x00"]))
    if draw(st.integers(0, 4)) == 0:  # (lines given with their newline)
        line += draw(st.sampled_from(["\n", "\r\n", "\x00\n", "\n\r"]))
    return line


@st.composite
def _record(draw) -> str:
    body = draw(_line())
    msg = body.split(" ", 3)[-1] if draw(st.booleans()) else body
    fields = [("__REALTIME_TIMESTAMP", draw(st.sampled_from(
        ["1714276000000001", "01714276000000001", "0", "", "99999999999999999999", "17142760000x"]))),
        ("_HOSTNAME", draw(st.sampled_from(["jh", "", "a b"]))), ("PRIORITY", "4"),
        ("MESSAGE", msg.replace("\\", "\\\\").replace('"', '\\"'))]
    fields = draw(st.permutations(fields))[: draw(st.integers(2, 4))]
    sep = draw(st.sampled_from([",", ", "]))
    return "{" + sep.join(f'"{k}":"{v}"' for k, v in fields) + "}" + draw(st.sampled_from(["", "\n"]))


def _agree(lines: list[str], tz: str, monkeypatch) -> None:
    fast, slow = _both(lines, monkeypatch, tz=tz)
    _same(fast, slow)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(_line(), _record()), min_size=1, max_size=30),
       tz=st.sampled_from(["UTC", "Europe/Paris"]))
def test_fast_and_general_paths_agree_on_drawn_lines(lines, tz, monkeypatch) -> None:
    _agree(lines, tz, monkeypatch)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(_line(), _line(), _record()), min_size=1, max_size=80),
       tz=st.sampled_from(["UTC", "Europe/Paris"]), seed=st.integers(0, 2**31))
def test_fast_and_general_paths_agree_on_drawn_and_generated_lines(lines, tz, seed, monkeypatch) -> None:
    _agree(lines + list(generate_lines(150, seed)), tz, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_and_general_paths_agree_on_mutated_lines(seed: int, monkeypatch) -> None:
    """Generated lines with tokens inserted, spans cut out, token soup and random characters
    (control characters, brackets, quotes, backslashes, non-ASCII)."""
    import random

    rng = random.Random(seed)
    base = list(generate_lines(500, seed))
    toks = ["IN=", "OUT=", "SRC=1.2.3.4", "DST=::1", "PROTO=TCP", "PROTO=ICMP", "[", "]", "[SRC=1", "DPT=2]",
            "OPT", "(", "(0204)", "SYN", "URGP=0", "MTU=5", "ID:5", "FRAG:1", "HOPLIMIT=3", "HOPLIMITX",
            "TYPE=3", "CODE=4", "{", "}", '"MESSAGE":"', "\\", "\x00", "\r", "\t", "é", "  ", "<4>",
            "Mar  1 00:00:00", "kernel:", "[1.5]", "2025-01-01T00:00:00Z"]
    for _ in range(10):
        lines = []
        for _ in range(60):
            s, k = rng.choice(base), rng.random()
            i = rng.randrange(len(s) + 1)
            if k < 0.3:
                s = s[:i] + rng.choice(toks) + s[i:]
            elif k < 0.45:
                s = s[:i] + s[rng.randrange(i, len(s) + 1):]
            elif k < 0.55:
                s = " ".join(rng.choice(toks) for _ in range(rng.randrange(30)))
            elif k < 0.6:
                s = "".join(chr(rng.randrange(1, 256)) for _ in range(rng.randrange(100)))
            lines.append(s)
        _agree(lines, rng.choice(["UTC", "Europe/Paris"]), monkeypatch)


def test_count_lines_counts_newlines_and_an_unterminated_last_line() -> None:
    # (expected by hand: each "\n" ends a line; text after the last one is one more line)
    assert parse_fast.count_lines(b"") == 0
    assert parse_fast.count_lines(b"\n") == 1
    assert parse_fast.count_lines(b"a\nb\n") == 2
    assert parse_fast.count_lines(b"a\nb") == 2
    assert parse_fast.count_lines(b"\n\n\nx") == 4


def test_block_bytes_come_in_the_stores_order() -> None:
    """parse_bytes (an ingest's parse of a block's bytes) gives the rows ordered by month, host
    (byte order), time, then line, with their months and rows per host, when the compiled pass
    decides every line; the rows themselves are parse_block's."""
    from honeyscope.ingest.parse import parse_bytes

    lines = [
        f"Apr  2 10:00:00 zeta {UDP}",   # 1
        f"Mar  3 10:00:05 beta {UDP}",   # 2
        f"Apr  1 09:00:00 Zeta {UDP}",   # 3  ("Z" < "a" < "z" in byte order)
        f"Mar  3 10:00:01 beta {UDP}",   # 4
        f"Mar  3 10:00:01 beta {UDP}",   # 5  (same host and time as line 4: after it)
        f"Mar  9 00:00:00 alpha {UDP}",  # 6
    ]
    block = ("\n".join(lines) + "\n").encode()
    ctx = ParseContext(source="t", reference_time=REF, sensor="s")
    res, n = parse_bytes(block, 1, ctx)
    assert n == 6
    assert res.layout is not None
    # by hand: March (alpha 6; beta 4, 5, 2), then April (Zeta 3; zeta 1)
    assert res.rows.column("line").to_pylist() == [6, 4, 5, 2, 3, 1]
    months, hosts, _ = res.layout
    assert months == [("2025-03", 0, 4), ("2025-04", 4, 6)]
    assert hosts == {"alpha": 1, "beta": 3, "Zeta": 1, "zeta": 1}
    same = parse_block(pa.array(lines, pa.string()), 1, ctx).rows
    assert res.rows.sort_by("line").equals(same.sort_by("line"))


def test_edge_lines_of_the_sanitizer_review_agree_with_the_general_path(monkeypatch):
    """A TCP line without flag words (an empty flags string) and an RFC 3339 stamp with 25 fraction
    digits (the compiled pass leaves it to the general path): the general path's answer."""
    lines = [
        "Mar  3 21:53:51 h kernel: IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=40 TTL=51 ID=1 "
        "PROTO=TCP SPT=1 DPT=2 WINDOW=0 RES=0x00 URGP=0 ",
        "2025-01-01T00:00:00.1234567890123456789012345Z hp1 kernel: DROP IN=eth0 OUT= SRC=1.2.3.4 "
        "DST=5.6.7.8 LEN=40 TTL=51 ID=1 PROTO=UDP SPT=1 DPT=2 LEN=20 ",
    ]
    got = parse_fast.claim(pa.array(lines, pa.string()), 1, _ctx())
    assert got is not None and got[2].tolist()[0]  # the flag-less TCP line: the compiled pass's
    fast, slow = _both(lines, monkeypatch)
    _same(fast, slow)
    # (the general path reads a long fraction to the microsecond and drops the rest)
    assert [(r["proto"], r["tcp_flags"], r["time"].microsecond) for r in fast.rows.to_pylist()] == [
        ("TCP", "", 0), ("UDP", None, 123456)]
