"""Edges of the compiled pass's faster reading (ingest/_fastparse.c): tokens read eight or sixteen
bytes at a time and near the end of a line, keys by a hash of their first 8 bytes, numbers as
their tokens come, IPv6 text written without printf, the anchor searched eight positions at a
time, a block's lines cut in one pass, the line-order table kept for the next block. Expected
values: the general (polars) path for the same lines, Python's ipaddress, and hand rules."""

from __future__ import annotations

import ipaddress
import threading
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from honeyscope.ingest import parse_fast
from honeyscope.ingest.parse import ParseContext, parse_block, parse_bytes

if parse_fast._fastparse is None:
    pytest.skip("the compiled parser (honeyscope.ingest._fastparse) is not built",
                allow_module_level=True)

REF = datetime(2025, 6, 1, 12, tzinfo=UTC)
HEAD = "Mar  3 21:53:51 hp1 kernel: DROP "
TCP = ("IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=60 TOS=0x10 PREC=0x00 TTL=51 ID=1 DF PROTO=TCP "
       "SPT=1 DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0 ")
UDP = "IN=eth0 OUT= SRC={src} DST=5.6.7.8 LEN=33 TOS=0x00 PREC=0x00 TTL=1 ID=0 PROTO=UDP SPT=1 DPT=2 LEN=13 "
V6 = ("IN=eth0 OUT= SRC={src} DST={dst} LEN=104 TC=0 HOPLIMIT=64 FLOWLBL=1 PROTO=ICMPv6 TYPE=128 "
      "CODE=0 ID=1 SEQ=7 ")
PING = "IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=84 TTL=64 ID=7 PROTO=ICMP TYPE=8 CODE=0 ID=1 SEQ={seq} "


def _ctx() -> ParseContext:
    return ParseContext(source="t", reference_time=REF, sensor="s")


def _claimed(lines: list[str]) -> list[bool]:
    got = parse_fast.claim(pa.array(lines, pa.string()), 1, _ctx())
    assert got is not None
    return got[2].tolist()


def _as_general_path(lines: list[str], monkeypatch: pytest.MonkeyPatch) -> pa.Table:
    """The rows of the block by the compiled pass, checked equal to the general path's."""
    arr = pa.array(lines, pa.string())
    monkeypatch.delenv(parse_fast.FALLBACK_ENV, raising=False)
    fast = parse_block(arr, 1, _ctx())
    monkeypatch.setenv(parse_fast.FALLBACK_ENV, "1")
    slow = parse_block(arr, 1, _ctx())
    monkeypatch.delenv(parse_fast.FALLBACK_ENV)
    for name in fast.rows.column_names:
        assert fast.rows.column(name).equals(slow.rows.column(name)), name
    assert fast.rejects.equals(slow.rejects)
    assert fast.warnings == slow.warnings
    return fast.rows


def test_tokens_at_the_end_of_a_line_and_keys_of_8_to_10_bytes(monkeypatch) -> None:
    # (no line ends with a space: the last tokens end within 8 bytes of the line's end)
    lines = [line.rstrip() for line in [
        HEAD + TCP,
        HEAD + TCP.replace("URGP=0 ", "MARK=0x1 URGP=0"),
        HEAD + PING.format(seq=1),
        HEAD + "IN=br0 OUT=br0 PHYSIN=eth0 PHYSOUT=eth1 " + TCP[13:],  # 7- and 8-byte keys
        HEAD + V6.format(src="2001:db8:0:0:0:0:0:1", dst="2001:db8:0:0:0:0:0:2"),  # HOPLIMIT= (9)
        HEAD + TCP.replace("DF ", "ABCDEFGH=1 "),  # unknown 9-byte key
        HEAD + TCP.replace("DF ", "ABCDEFGHI=1 "),  # '=' as the 10th byte
        HEAD + TCP.replace("DF ", "ABCDEFGHIJ=1 "),  # '=' after the first 10 bytes
        HEAD + TCP.replace("TTL=51", "TTL="),  # a key without its value
    ]]
    # by the rules of the pass: the known keys are read, an unknown key leaves the line
    assert _claimed(lines) == [True] * 5 + [False] * 4
    got = {r["line"]: r for r in _as_general_path(lines, monkeypatch).to_pylist()}
    assert (got[4]["physin"], got[4]["physout"], got[5]["ttl"], got[2]["mark"]) == ("eth0", "eth1", 64, 1)


@pytest.mark.parametrize("text", [
    "2001:0db8:0000:0000:0001:0000:0000:0001",  # two equal runs: the leftmost becomes "::"
    "0000:0000:0000:0000:0000:0000:0000:0000",
    "0000:0000:0000:0000:0000:0000:0000:0001",
    "fe80:0000:0000:0000:0000:0000:0000:0000",
    "2001:DB8:0:1:0:0:0:ABCD",  # upper case, 1- to 4-digit groups
    "1:0:2:0:3:0:4:0",  # single zero groups: no "::"
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "0:0:1:0:0:0:1:0",  # the longer run wins
    "00a:0b0:c00:000d:1:2:3:4",
])
def test_ipv6_text_as_pythons_ipaddress_writes_it(text: str, monkeypatch) -> None:
    lines = [HEAD + V6.format(src=text, dst=text)]
    assert _claimed(lines) == [True]
    rows = _as_general_path(lines, monkeypatch)
    want = str(ipaddress.IPv6Address(text))
    assert rows.column("src").to_pylist() == [want] and rows.column("dst").to_pylist() == [want]


def test_only_canonical_dotted_quads_are_read(monkeypatch) -> None:
    good = ["0.0.0.0", "255.255.255.255", "1.2.3.4", "10.100.200.9", "199.99.9.0"]
    bad = ["01.2.3.4", "1.2.3.04", "1.2.3.256", "1.2.3", "1.2.3.4.5", "1234.1.1.1", "1.2..3",
           "1.2.3.", ".1.2.3", "1.2.3.4a", "a.b.c.d"]
    lines = [HEAD + UDP.format(src=a) for a in good + bad]
    # canonical: what Python's ipaddress writes back for the address (the others: general path)
    assert _claimed(lines) == [True] * len(good) + [False] * len(bad)
    assert [str(ipaddress.IPv4Address(a)) for a in good] == good
    rows = _as_general_path(lines, monkeypatch).to_pylist()
    assert [r["src_int"] for r in rows if r["line"] <= len(good)] == [
        int(ipaddress.IPv4Address(a)) for a in good]


def test_numbers_at_their_limits(monkeypatch) -> None:
    lines = [
        HEAD + TCP.replace("LEN=60", "LEN=65535"),
        HEAD + TCP.replace("LEN=60", "LEN=65536"),  # over 16 bits for IPv4
        HEAD + TCP.replace("SPT=1 DPT=22", "SPT=1 DPT=22 SEQ=4294967295 ACK=0"),
        HEAD + TCP.replace("SPT=1 DPT=22", "SPT=1 DPT=22 SEQ=4294967296 ACK=0"),
        HEAD + PING.format(seq=65535),
        HEAD + PING.format(seq=65536),  # an echo's SEQ= is 16 bits
        HEAD + TCP + "UID=999999999999 GID=0 ",  # 12 digits, over 32 bits
        HEAD + TCP + "UID=1099511627776000 GID=0 ",  # 16 digits (past the 2**40 saturation)
        HEAD + TCP.replace("SPT=1", "SPT=080"),  # a leading zero
        HEAD + TCP.replace("TOS=0x10", "TOS=0X1F"),
        HEAD + TCP + "MARK=0xffffffff ",
        HEAD + TCP + "MARK=0x100000000 ",
    ]
    assert _claimed(lines) == [True, False, True, False, True, False, False, False, False, True,
                               True, False]
    rows = _as_general_path(lines, monkeypatch)
    got = {r["line"]: r for r in rows.to_pylist()}
    assert (got[1]["len"], got[3]["tcp_seq"], got[5]["icmp_seq"], got[10]["tos"], got[11]["mark"]) == (
        65535, 2**32 - 1, 65535, 0x1F, 2**32 - 1)


@pytest.mark.parametrize("byte", ["\x01", "\x7f", "\t", "\u00e9"])
def test_a_control_or_non_ascii_byte_anywhere_leaves_the_line(byte: str, monkeypatch) -> None:
    line = HEAD + TCP
    # (every position: in the 16-byte steps, in the 8-byte steps after them, in the last bytes)
    lines = [line[:i] + byte + line[i:] for i in range(0, len(line) + 1, 3)]
    assert not any(_claimed(lines))
    _as_general_path(lines, monkeypatch)


@pytest.mark.parametrize("pad", range(10))
def test_the_anchor_after_decoys_at_every_alignment(pad: int, monkeypatch) -> None:
    p = "x" * pad
    lines = [
        f"Mar  3 21:53:51 hp1 kernel: {p}LOGIN=1 {TCP}",  # "IN=" inside a word first
        f"Mar  3 21:53:51 hp1 kernel: {p}IN=a IN=b OUT=c {TCP[13:]}",  # "IN=" without OUT= after it
        f"Mar  3 21:53:51 hp1 kernel: {p}IN= OUT= {TCP[13:]}",
        f"Mar  3 21:53:51 IN=h{p} kernel: {TCP}",
    ]
    _as_general_path(lines, monkeypatch)


def test_a_blocks_lines_cut_in_one_pass(monkeypatch) -> None:
    """Empty lines, a blank line and an unterminated last line: parse_bytes (the block's bytes
    cut by the pass) gives the general path's rows over the same lines."""
    lines = [HEAD + TCP, "", HEAD + UDP.format(src="9.9.9.9"), "   ", "", HEAD + PING.format(seq=3)]
    block = "\n".join(lines).encode()  # (no newline after the last line)
    res, n = parse_bytes(block, 1, _ctx())
    assert n == len(lines)
    rows = _as_general_path(lines, monkeypatch)
    assert res.rows.sort_by("line").equals(rows.sort_by("line"))
    assert res.rows.column("line").to_pylist() == [1, 3, 6]  # (one host, one month: by time)


def test_two_threads_parsing_at_once_get_their_own_blocks_rows() -> None:
    """The line-order table is kept between calls (up to two, for threads parsing at once): rows of
    blocks parsed by two threads at once, of several sizes, are those of one thread alone."""
    def block(k: int, n: int) -> bytes:
        return "".join(f"Mar  {1 + i % 9} 0{i % 10}:00:00 h{(i * k) % 7} kernel: DROP "
                       + UDP.format(src=f"10.{k}.{i // 250 % 250}.{i % 250}") + "\n"
                       for i in range(n)).encode()

    blocks = [block(k, n) for k in range(1, 4) for n in (1, 700, 3000, 40)]

    def rows(b: bytes) -> pa.Table:
        res, _ = parse_bytes(b, 1, _ctx())
        assert res.layout is not None  # (the store's order: the kept table's path)
        return res.rows

    alone = [rows(b) for b in blocks]
    bad: list[int] = []

    def run(order: list[int]) -> None:
        for _ in range(4):
            for i in order:
                if not rows(blocks[i]).equals(alone[i]):
                    bad.append(i)

    order = list(range(len(blocks)))
    threads = [threading.Thread(target=run, args=(order,)),
               threading.Thread(target=run, args=(order[::-1],))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []
    assert [t.num_rows for t in alone] == [1, 700, 3000, 40] * 3


def test_a_mac_of_14_hex_bytes_is_split_and_any_other_kept_whole(monkeypatch) -> None:
    mac = "00:11:22:33:44:55:66:77:88:99:aA:Bb:08:00"
    # (around the hex digits' ranges: '/', ':', '@', 'G', '`', 'g'; '-' for a separator)
    lines = [HEAD + TCP.replace("OUT= ", f"OUT= MAC={mac} ")]
    for i, ch in enumerate(mac):
        for bad in ("-", ";") if ch == ":" else ("/", ":", "@", "G", "`", "g"):
            lines.append(HEAD + TCP.replace("OUT= ", f"OUT= MAC={mac[:i]}{bad}{mac[i + 1:]} "))
    rows = _as_general_path(lines, monkeypatch).to_pylist()
    assert (rows[0]["mac_dst"], rows[0]["mac_src"], rows[0]["ethertype"], rows[0]["mac"]) == (
        "00:11:22:33:44:55", "66:77:88:99:aa:bb", 0x0800, None)
    assert all(r["mac_dst"] is None and r["mac"] for r in rows[1:]) and len(rows) == len(lines)


def test_every_month_name_and_no_other(monkeypatch) -> None:
    names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    lines = [f"{m}  5 10:00:00 hp1 kernel: DROP {UDP.format(src='9.9.9.9')}" for m in names]
    lines += [f"{m}  5 10:00:00 hp1 kernel: DROP {UDP.format(src='9.9.9.9')}" for m in ("Mai", "JAN", "Dez")]
    assert _claimed(lines) == [True] * 12 + [False] * 3
    rows = _as_general_path(lines, monkeypatch).to_pylist()
    # (the reference is 2025-06-01 12:00: the 5th of June to December are of 2024)
    assert [(r["time"].year, r["time"].month) for r in rows[:12]] == [
        (2025 if k <= 5 else 2024, k) for k in range(1, 13)]
