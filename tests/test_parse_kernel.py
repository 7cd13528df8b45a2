"""The compiled tokeniser (parse_kernel) gives exactly what the numpy tokeniser (parse_tokens) gives."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import corpus
from honeyscope.ingest import parse_tokens
from honeyscope.synth.lines import generate_lines

parse_kernel = pytest.importorskip("honeyscope.ingest.parse_kernel")

BODY = ("IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=1.2.3.4 DST=5.6.7.8 "
        "LEN=40 TOS=0x00 PREC=0x00 TTL=50 ID=1 PROTO=TCP SPT=1234 DPT=23 WINDOW=1024 RES=0x00 "
        "SYN URGP=0 ")


def both(lines: list[str | None]) -> tuple[dict, dict]:
    arr = pa.array(lines, pa.large_string())
    at = np.asarray(pc.find_substring(arr, "IN=").fill_null(-1)).astype(np.int64)
    # the parser tokenises only lines of at most 16 KiB; so do we
    at = np.where(np.asarray(pc.binary_length(arr).fill_null(0)) > 16384, -1, at)
    return parse_tokens.tokenise(arr, at), parse_kernel.tokenise(arr, at)


def assert_same(lines: list[str | None]) -> None:
    a, b = both(lines)
    assert set(a) == set(b)
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, np.ndarray):
            assert isinstance(y, np.ndarray) and y.dtype == np.bool_, k
            assert np.array_equal(x, y), k
        else:
            assert x.type == y.type, k
            assert x.to_pylist() == y.to_pylist(), k


def test_known_values() -> None:
    line = ("Mar  3 21:53:59 h kernel: DROP IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=576 TOS=0x00 "
            "PREC=0xC0 TTL=64 ID=1 PROTO=ICMP TYPE=3 CODE=3 [SRC=10.0.0.2 DST=10.0.0.1 LEN=48 "
            "TOS=0x00 PREC=0x00 TTL=64 ID=2 PROTO=UDP SPT=53 DPT=4444 LEN=28 ] MTU=1500 UID=7")
    tcp = (
        "x IN=e OUT= SRC=1.1.1.1 DST=2.2.2.2 PROTO=TCP SPT=1 DPT=2 WINDOW=3 RES=0x00 ACK PSH URGP=0 "
        "OPT (0204)")
    _, k = both([line, tcp, "no body", None])
    got = {name: k[name].to_pylist() for name in
           ("t_src", "t_isrc", "t_len", "t_ilen", "t_l4len", "t_proto", "t_iproto", "t_mtu",
            "t_uid", "t_flags", "t_tcpopt", "t_in", "_head", "t_idpt")}
    assert got == {
        "t_src": ["10.0.0.1", "1.1.1.1", None, None],
        "t_isrc": ["10.0.0.2", None, None, None],
        "t_len": ["576", None, None, None],
        "t_ilen": ["48", None, None, None],
        "t_l4len": [None, None, None, None],
        "t_proto": ["ICMP", "TCP", None, None],
        "t_iproto": ["UDP", None, None, None],
        "t_mtu": ["1500", None, None, None],
        "t_uid": ["7", None, None, None],
        "t_flags": [None, "ACK PSH", None, None],
        "t_tcpopt": [None, "0204", None, None],
        "t_in": ["eth0", "e", None, None],
        "_head": ["Mar  3 21:53:59 h kernel: DROP ", "x ", None, None],
        "t_idpt": ["4444", None, None, None],
    }
    assert k["_looks_nf"].tolist() == [True, True, False, False]


def test_corpus_and_generated_lines() -> None:
    lines: list[str | None] = []
    for p in sorted(corpus("iptables").rglob("*.log")):
        lines += p.read_text(encoding="utf-8", errors="replace").splitlines()
    lines += list(generate_lines(3000, 7))
    assert len(lines) > 3000
    assert_same(lines)


def test_odd_spacing_brackets_and_options() -> None:
    assert_same([
        None, "", "IN=", " IN=", "IN= ", "IN=eth0  OUT=  SRC=1.1.1.1",
        BODY + "OPT (", BODY + "OPT ( 0204 )", BODY + "OPT ( )", BODY + "OPT", BODY + "OPT )",
        "IN=e OPT (01) PROTO=TCP OPT (02) OPT (03)", "IN=e OPT OPT (9)",
        "IN=e SRC=1 PROTO=ICMP [ SRC=2 PROTO=TCP SPT=3 ] ] MTU=4 [SRC=9]",
        "IN=e [SRC=1 PROTO=X [PROTO=Y SPT=5]", "IN=e [ ] [", "IN=e ]]] [[[",
        "IN=e HOPLIMIT=5 HOPLIMITS=6 FRAG:5 ID:77 INCOMPLETE PROTO=UDP INCOMPLETE [3 bytes]",
        "IN=e KEYLONGER12=5 A=B=C :x =y PROTO=TCP SYN FIN URGP=0 ACK=5 SEQ=7",
        "IN=e PROTO=TCP RES=0x00 URGP=0", "IN=e PROTO=TCP CWR ECE X URG URGP=0",
        "IN=\ufffd\x00 SRC=\u00e9\u00e9 DST=\U0001f600 PROTO=\t TCP",
        "A" * 20000 + " IN=e SRC=1.1.1.1", "IN=" * 3000,
    ])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(
    st.sampled_from(["IN=", "OUT=", "SRC=1.2.3.4", "PROTO=TCP", "PROTO=", "[", "]", "[SRC=1",
                     "DPT=2]", "OPT", "(", ")", "(0204)", "SYN", "ACK", "URGP=0", "MTU=5",
                     "ID:5", "FRAG:1", "HOPLIMIT=3", "INCOMPLETE", "ID=1", "LEN=3", " ", "  "]),
    st.text(max_size=12)), max_size=30))
def test_random_token_soup(parts: list[str]) -> None:
    line = " ".join(parts)
    assert_same([line, "IN=" + line, BODY + line, line + " " + BODY])


def test_parse_block_same_without_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pure numpy/polars path (no numba) gives the very same rows and rejects."""
    from datetime import UTC, datetime

    from honeyscope.ingest import parse

    lines: list[str | None] = []
    for p in sorted(corpus("iptables").rglob("*.log")):
        lines += p.read_text(encoding="utf-8", errors="replace").splitlines()
    lines += list(generate_lines(2000, 11))
    lines += [None, "", "IN=e SRC=01.2.3.4 DST=2001:DB8::1 PROTO=TCP SPT=+5 DPT=0x10",
              "IN=e SRC=::ffff:1.2.3.4 DST=1.2.3.4 PROTO=UDP SPT=-0 DPT=99999999999999999999",
              "IN=e SRC=1.2.3.4 DST=1.2.3.256 PROTO=UDP SPT=1 DPT=2",
              BODY.replace("TOS=0x00", "TOS=0x0X1f").replace("SRC=1.2.3.4", "SRC=fe80::1")]
    arr = pa.array(lines, pa.string())
    ctx = parse.ParseContext(source="t", reference_time=datetime(2025, 6, 1, tzinfo=UTC))
    monkeypatch.setenv("HONEYSCOPE_PARSE_FALLBACK", "1")  # (every line through numba or numpy)
    fast = parse.parse_block(arr, 1, ctx)
    monkeypatch.setattr(parse, "_kernel", None)  # (parse_tokens.tokenise, imported where it runs)
    slow = parse.parse_block(arr, 1, ctx)
    assert fast.rows.num_rows > 2000
    assert fast.rows.equals(slow.rows)
    assert fast.rejects.equals(slow.rejects)
