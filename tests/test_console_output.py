"""One timestamp format and integer ports in the analyses' CSV, JSON and text (issue 10, items 4
and 5), read back by independent readers and compared to values written by hand."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pytest

from honeyscope.cli import main as cli
from honeyscope.render.console import frame_text, json_text, summary_text
from honeyscope.store.frames import format_times, output_frame, restore_ints, time_text, to_pandas

LINE = ("Mar  3 21:53:{s:02d} s1 kernel: DROP IN=eth0 OUT= SRC=1.2.3.{k} DST=5.6.7.8 LEN=40 TOS=0x00 "
        "PREC=0x00 TTL=50 ID=1 PROTO=TCP SPT=40000 DPT={dpt} WINDOW=1024 RES=0x00 SYN URGP=0 ")
ICMP = ("Mar  3 21:54:00 s1 kernel: DROP IN=eth0 OUT= SRC=1.2.3.9 DST=5.6.7.8 LEN=84 TOS=0x00 "
        "PREC=0x00 TTL=53 ID=1 DF PROTO=ICMP TYPE=8 CODE=0 ID=31337 SEQ=1 ")


def _frame() -> pd.DataFrame:
    # as an engine returns them: a nullable port as float, times zoned and naive
    return pd.DataFrame({
        "src": ["a/b", "c"],
        "dpt": [22.0, float("nan")],
        "first_seen": pd.to_datetime(["2013-03-03 21:53:59", "2013-03-04 00:00:00.25"], utc=True,
                                     format="ISO8601"),
        "day": pd.to_datetime(["2013-03-03", "2013-03-04"]),
    })


def test_output_frame_times_and_ports():
    out = output_frame(_frame())
    assert out["first_seen"].tolist() == ["2013-03-03T21:53:59.000000Z", "2013-03-04T00:00:00.250000Z"]
    assert out["day"].tolist() == ["2013-03-03", "2013-03-04"]
    assert str(out["dpt"].dtype) == "Int64" and out["dpt"].iloc[0] == 22 and pd.isna(out["dpt"].iloc[1])


def test_whole_seconds_have_no_fraction_and_naive_is_utc():
    s = pd.Series(pd.to_datetime(["2013-03-03 21:53:59", None]), name="time")
    assert format_times(s).tolist() == ["2013-03-03T21:53:59Z", None]
    # epoch seconds as a double: no phantom nanoseconds (1362347639 = 2013-03-03T21:53:59Z)
    assert time_text(1362347639.0000002) == "2013-03-03T21:53:59Z"
    assert time_text(1362347639.25, fraction=True) == "2013-03-03T21:53:59.250000Z"


def test_json_text_reads_back():
    rows = json.loads(json_text(_frame()))
    assert rows[0]["dpt"] == 22 and isinstance(rows[0]["dpt"], int) and rows[1]["dpt"] is None
    assert datetime.fromisoformat(rows[1]["first_seen"]) == datetime(2013, 3, 4, 0, 0, 0, 250000, tzinfo=UTC)
    assert '"a/b"' in json_text(_frame())  # "/" not escaped


def test_frame_text_shows_times_not_just_dates():
    text = frame_text(_frame()[["src", "first_seen"]])
    assert "2013-03-04T00:00:00.250000Z" in text  # the old print cut it to 2013-03-04


def test_store_pandas_ports_are_nullable_integers():
    t = pa.table({"dpt": pa.array([22, None], pa.uint16()), "icmp_code": pa.array([None, 0], pa.uint8())})
    df = to_pandas(t)
    assert str(df["dpt"].dtype) == "UInt16" and df["dpt"].tolist()[0] == 22
    assert str(df["icmp_code"].dtype) == "UInt8"
    assert restore_ints(pd.DataFrame({"port": [1.5]}))["port"].dtype.kind == "f"  # not whole: kept


def test_cli_csv_and_json_parse_with_independent_readers(tmp_path, capsys):
    f = tmp_path / "k.log"
    f.write_text("\n".join([LINE.format(s=59, k=1, dpt=22), LINE.format(s=30, k=2, dpt=23), ICMP]) + "\n")
    assert cli(["sources", str(f), "--year", "2013", "--format", "csv"]) == 0
    df = pd.read_csv(io.StringIO(capsys.readouterr().out), parse_dates=["first_seen", "last_seen"])
    assert isinstance(df["first_seen"].dtype, pd.DatetimeTZDtype)
    got = dict(zip(df["src"], df["first_seen"], strict=True))
    assert got["1.2.3.1"] == pd.Timestamp("2013-03-03 21:53:59", tz="UTC")
    assert got["1.2.3.9"] == pd.Timestamp("2013-03-03 21:54:00", tz="UTC")
    assert cli(["count", str(f), "--year", "2013", "--by", "dpt", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["dpt"], r["count"]) for r in rows] == [(22, 1), (23, 1), (None, 1)]  # not 22.0


@pytest.mark.slow  # summary of an on-the-fly ingest: several seconds
def test_summary_first_last_rfc3339(tmp_path, capsys):
    f = tmp_path / "k.log"
    f.write_text("\n".join([LINE.format(s=59, k=1, dpt=22), LINE.format(s=30, k=2, dpt=23)]) + "\n")
    assert cli(["summary", str(f), "--year", "2013", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    got = {r["stat"]: r["value"] for r in rows if r["kind"] == "time"}
    assert (got["First"], got["Last"]) == ("2013-03-03T21:53:30Z", "2013-03-03T21:53:59Z")
    df = pd.DataFrame([{"column": "time", "kind": "time", "stat": s, "value": v}
                       for s, v in (("First", got["First"]), ("Last", got["Last"]), ("Days", 1))])
    assert "First:2013-03-03T21:53:30Z" in summary_text(df)


def test_api_pandas_ports_are_integers(tmp_path):
    import honeyscope

    f = tmp_path / "k.log"
    f.write_text("\n".join([LINE.format(s=59, k=1, dpt=22), ICMP]) + "\n")
    honeyscope.ingest([str(f)], tmp_path / "s", year=2013)
    df = honeyscope.open_store(tmp_path / "s").pandas()
    assert str(df["dpt"].dtype) == "UInt16"  # was float64 (22.0) with the ICMP row's null
    assert df["dpt"].tolist()[0] == 22 and pd.isna(df["dpt"].tolist()[1])
    assert df["icmp_type"].tolist()[1] == 8
    tl = honeyscope.source(str(tmp_path / "s"), ["1.2.3.1", "1.2.3.9"])
    assert tl["dpt"].dtype.kind in "iu" or str(tl["dpt"].dtype) == "Int64"
    assert sorted(tl["dpt"].dropna().tolist()) == [22]
