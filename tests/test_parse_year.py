"""``--year`` on the compiled parse path (ingest/_fastparse.c + parse_fast): RFC 3164 stamps carry
no year, so each sensor's stamps are unwrapped from line to line and block to block (a step back of
more than half a year is the next year, forward more than half a year the year before). The
expected times below are worked out by hand from that rule; both paths must give them, and agree
with each other (rows, rejects, warnings, carried state) on drawn lines."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from honeyscope.ingest import parse_fast
from honeyscope.ingest.parse import ParseContext, parse_block, parse_bytes

if parse_fast._fastparse is None:
    pytest.skip("the compiled parser (honeyscope.ingest._fastparse) is not built",
                allow_module_level=True)

REF = datetime(2026, 6, 1, tzinfo=UTC)
TCP = ("kernel: DROP IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=60 TOS=0x00 PREC=0x00 TTL=51 ID=1 DF "
       "PROTO=TCP SPT={spt} DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0 ")
PATHS = ["fast", "general"]


def _pkt(stamp: str, host: str | None, spt: int = 1000) -> str:
    return f"{stamp} {host + ' ' if host else ''}{TCP.format(spt=spt)}"


def _parse(blocks: list[list[str]], year: int, path: str, monkeypatch, tz: str = "UTC"):
    """Rows, rejects, warnings and carried state of ``blocks`` parsed in order (bytes, as an
    ingest reads them), by ``path``."""
    if path == "general":
        monkeypatch.setenv(parse_fast.FALLBACK_ENV, "1")
    else:
        monkeypatch.delenv(parse_fast.FALLBACK_ENV, raising=False)
    ctx = ParseContext(source="t", reference_time=REF, year=year, tz=tz, sensor="s")
    rows, rejects, warn = [], [], {}
    line = 1
    for b in blocks:
        res, n = parse_bytes(("\n".join(b) + "\n").encode(), line, ctx)
        line += n
        rows += res.rows.to_pylist()
        rejects += res.rejects.to_pylist()
        for k, v in res.warnings.items():
            warn[k] = warn.get(k, 0) + v
    monkeypatch.delenv(parse_fast.FALLBACK_ENV, raising=False)
    return sorted(rows, key=lambda r: r["line"]), rejects, warn, ctx.state.get("bsd_sensor_years")


def _t(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


@pytest.mark.parametrize("path", PATHS)
def test_rollover_per_sensor_interleaved(path, monkeypatch) -> None:
    lines = [_pkt("Dec 30 10:00:00", "a"), _pkt("Jan  2 10:00:00", "b"),  # b's first: 2024
             _pkt("Jan  1 00:00:01", "a"),  # 364 days back from a's Dec 30: the next year
             _pkt("Dec 31 23:59:59", "b"),  # 364 days on from b's Jan 2: the year before
             _pkt("Dec 31 23:00:00", "a")]  # a back to Dec 31 (reordering): still 2024
    rows, rejects, _, _ = _parse([lines], 2024, path, monkeypatch)
    assert not rejects
    assert [(r["host"], r["time"]) for r in rows] == [
        ("a", _t(2024, 12, 30, 10)), ("b", _t(2024, 1, 2, 10)), ("a", _t(2025, 1, 1, 0, 0, 1)),
        ("b", _t(2023, 12, 31, 23, 59, 59)), ("a", _t(2024, 12, 31, 23))]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("size", [1, 2, 5])
def test_rollover_carried_between_blocks(path, size, monkeypatch) -> None:
    lines = [_pkt("Nov 20 00:00:00", "a"), _pkt("Dec 31 23:59:59", "a"), _pkt("Jan  1 00:00:00", "a"),
             _pkt("Jun 30 00:00:00", "a"), _pkt("Jan  1 00:00:00", "a")]
    blocks = [lines[i:i + size] for i in range(0, len(lines), size)]
    rows, _, _, state = _parse(blocks, 2023, path, monkeypatch)
    # Jun 30 2024 → Jan 1: 180 days back (of a 365-day year) (not more than half a year): Jan 1 2024 again
    assert [r["time"] for r in rows] == [_t(2023, 11, 20), _t(2023, 12, 31, 23, 59, 59), _t(2024, 1, 1),
                                         _t(2024, 6, 30), _t(2024, 1, 1)]
    assert state == {"a": (0, 1)}


@pytest.mark.parametrize("path", PATHS)
def test_non_packet_lines_and_lines_without_host_take_part(path, monkeypatch) -> None:
    lines = [_pkt("Jun  1 00:00:00", "a"),
             "Sep  1 00:00:00 a sshd[1]: Accepted publickey for root",  # a's stamp all the same
             _pkt("Jan  2 00:00:00", "a"),  # 242 days back from Sep 1: 2025 (from Jun 1 it would not be)
             _pkt("Dec 31 00:00:00", "s"),
             _pkt("Jan  1 00:00:00", None)]  # no host: its own sensor "", not "s" (--sensor's fill)
    rows, rejects, _, _ = _parse([lines], 2024, path, monkeypatch)
    assert [(r["host"], r["time"]) for r in rows] == [
        ("a", _t(2024, 6, 1)), ("a", _t(2025, 1, 2)), ("s", _t(2024, 12, 31)), ("s", _t(2024, 1, 1))]
    assert [(r["line"], r["reason"], r["host"], r["time"]) for r in rejects] == [
        (2, "not a netfilter line", "a", _t(2024, 9, 1))]


@pytest.mark.parametrize("path", PATHS)
def test_feb_29_is_valid_in_the_unwrapped_year_only(path, monkeypatch) -> None:
    lines = [_pkt("Feb 29 12:00:00", "a"), _pkt("Dec 31 00:00:00", "b"), _pkt("Jan  1 00:00:00", "b"),
             _pkt("Feb 29 12:00:00", "b"), _pkt("Apr 31 00:00:00", "b")]
    rows, rejects, _, state = _parse([lines], 2023, path, monkeypatch)
    # a: 2023 has no Feb 29; b rolled over into 2024, which has one; Apr 31 never exists
    assert [(r["line"], r["time"]) for r in rows] == [
        (2, _t(2023, 12, 31)), (3, _t(2024, 1, 1)), (4, _t(2024, 2, 29, 12))]
    assert [(r["line"], r["reason"]) for r in rejects] == [(1, "bad timestamp"), (5, "bad timestamp")]
    # (Feb 29's position is Mar 1's in a 365-day year: day 59; Apr 31's is May 1's: day 120)
    assert state == {"a": (59 * 86400 + 43200, 0), "b": (120 * 86400, 1)}


@pytest.mark.parametrize("path", PATHS)
def test_a_time_the_general_path_rejects_gives_it_the_block(path, monkeypatch) -> None:
    lines = [_pkt("Jun  1 00:00:00", "a"), _pkt("Dec 31 00:00:00", "a"),  # 213 days on: 1969
             _pkt("Jan  1 00:00:00", "a")]  # back from Dec 31 1969: 1970 again
    rows, rejects, _, state = _parse([lines], 1970, path, monkeypatch)
    assert [(r["line"], r["time"]) for r in rows] == [(1, _t(1970, 6, 1)), (3, _t(1970, 1, 1))]
    assert [(r["line"], r["reason"]) for r in rejects] == [(2, "bad timestamp")]  # (before 1970)
    assert state == {"a": (0, 0)}
    # 02:30 on 2024-03-31 does not exist in Paris (clocks went from 02:00 to 03:00)
    lines = [_pkt("Mar 31 01:30:00", "a"), _pkt("Mar 31 02:30:00", "a"), _pkt("Mar 31 03:30:00", "a")]
    rows, rejects, _, _ = _parse([lines], 2024, path, monkeypatch, tz="Europe/Paris")
    assert [(r["line"], r["time"]) for r in rows] == [(1, _t(2024, 3, 31, 0, 30)),
                                                      (3, _t(2024, 3, 31, 1, 30))]
    assert [(r["line"], r["reason"]) for r in rejects] == [(2, "bad timestamp")]


def test_the_fast_path_claims_ordinary_lines_under_year() -> None:
    lines = [_pkt("Dec 31 23:59:59", "a"), _pkt("Jan  1 00:00:00", "a"), "Jan  1 00:00:00 a sshd: x",
             _pkt("Feb 29 00:00:00", "a")]
    ctx = ParseContext(source="t", reference_time=REF, year=2024)
    got = parse_fast.claim(pa.array(lines), 1, ctx)
    assert got is not None
    _, _, claimed, _, year = got
    assert claimed.tolist() == [True, True, True, False]  # (Feb 29: the general path's)
    assert year is not None and year.ypos.tolist() == [364 * 86400 + 86399, 0, 0, -1]
    res = parse_block(pa.array(lines), 1, ctx)
    assert [r["time"] for r in res.rows.to_pylist()] == [_t(2024, 12, 31, 23, 59, 59), _t(2025, 1, 1)]
    # Feb 29 follows a's Jan 1 2025: 2025 has none
    assert [(r["line"], r["reason"]) for r in res.rejects.to_pylist()] == [
        (3, "not a netfilter line"), (4, "bad timestamp")]


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@st.composite
def _line(draw) -> str:
    day, hour = draw(st.integers(1, 31)), draw(st.integers(0, 23))
    stamp = f"{draw(st.sampled_from(_MONTHS))} {day:2d} {hour:02d}:00:00"
    host = draw(st.sampled_from(["a", "b", None]))
    kind = draw(st.sampled_from(["pkt", "pkt", "pkt", "syslog", "junk", "odd", "iso"]))
    if kind == "syslog":
        return f"{stamp} {host or 'a'} sshd[1]: session opened"
    if kind == "junk":
        return "junk"
    if kind == "odd":  # (the general path's alone: IP options)
        return _pkt(stamp, host).replace("DF ", "DF OPT (0101) ")
    if kind == "iso":
        return _pkt("2024-12-31T23:00:00Z", host)
    return _pkt(stamp, host, draw(st.integers(1, 65535)))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_line(), min_size=1, max_size=40), year=st.sampled_from([2023, 2024, 2099]),
       size=st.integers(1, 40), tz=st.sampled_from(["UTC", "Europe/Paris"]))
def test_both_paths_agree_under_year(lines, year, size, tz, monkeypatch) -> None:
    blocks = [lines[i:i + size] for i in range(0, len(lines), size)]
    assert _parse(blocks, year, "fast", monkeypatch, tz) == _parse(blocks, year, "general", monkeypatch, tz)
