"""One timestamp format (RFC 3339 UTC, ``Z``, one precision per column) in ``export --format
csv|jsonl``, read back by independent readers (pandas ``read_csv(parse_dates=)``, ``json`` +
``datetime.fromisoformat``) and compared to times written by hand; ``--raw`` CSV; the export
module in the render layer (issue 10, items 4 and 5, layering)."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from honeyscope.cli import main as cli
from honeyscope.ingest.run import ingest
from honeyscope.render.export import export
from honeyscope.store.store import Store

LINE = ("{stamp} {host} kernel: [UFW BLOCK] IN=eth0 OUT= SRC={src} DST=172.30.0.64 LEN=40 TOS=0x00 "
        "PREC=0x00 TTL=41 ID=6624 PROTO=TCP SPT=43861 DPT={dpt} WINDOW=24253 RES=0x00 SYN URGP=0")
SRC = Path(__file__).resolve().parents[1] / "src" / "honeyscope"


def _store(tmp_path: Path, stamps: list[str], host: str = "s1") -> Store:
    f = tmp_path / "k.log"
    f.write_text("".join(LINE.format(stamp=s, host=host, src=f"10.0.0.{i + 1}", dpt=22 + i) + "\n"
                         for i, s in enumerate(stamps)))
    led = ingest([str(f)], tmp_path / "s", year=2013)
    assert led.rows == len(stamps)
    return Store(tmp_path / "s")


def test_csv_export_times_parse_with_pandas(tmp_path):
    store = _store(tmp_path, ["Mar  3 21:53:59", "Mar  4 00:00:01"])
    out = tmp_path / "p.csv"
    assert export(store, "csv", str(out)) == 2
    df = pd.read_csv(out, parse_dates=["time"])
    assert isinstance(df["time"].dtype, pd.DatetimeTZDtype)  # the old "+00" suffix left it object
    assert df["time"].tolist() == [pd.Timestamp("2013-03-03 21:53:59", tz="UTC"),
                                   pd.Timestamp("2013-03-04 00:00:01", tz="UTC")]
    assert out.read_text().splitlines()[1].startswith("2013-03-03T21:53:59Z,")
    assert df["dpt"].tolist() == [22, 23]


def test_jsonl_export_times_are_rfc3339_with_z(tmp_path):
    store = _store(tmp_path, ["Mar  3 21:53:59", "Mar  4 00:00:01"])
    out = tmp_path / "p.jsonl"
    export(store, "jsonl", str(out))
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["time"] for r in rows] == ["2013-03-03T21:53:59Z", "2013-03-04T00:00:01Z"]
    assert [datetime.fromisoformat(r["time"]) for r in rows] == [
        datetime(2013, 3, 3, 21, 53, 59, tzinfo=UTC), datetime(2013, 3, 4, 0, 0, 1, tzinfo=UTC)]
    assert "\\/" not in out.read_text()  # the source path's slashes are not escaped


def test_sub_second_times_give_microseconds_on_every_row(tmp_path):
    store = _store(tmp_path, ["2013-03-03T21:53:59.250000+00:00", "2013-03-03T22:54:00+01:00"])
    out = tmp_path / "p.csv"
    export(store, "csv", str(out))
    cells = [line.split(",")[0] for line in out.read_text().splitlines()[1:]]
    assert cells == ["2013-03-03T21:53:59.250000Z", "2013-03-03T21:54:00.000000Z"]
    df = pd.read_csv(out, parse_dates=["time"])
    assert df["time"].iloc[0] == pd.Timestamp("2013-03-03 21:53:59.25", tz="UTC")


def test_csv_is_defused_unless_raw(tmp_path):
    store = _store(tmp_path, ["Mar  3 21:53:59"], host="=cmd")
    safe, raw = tmp_path / "safe.csv", tmp_path / "raw.csv"
    export(store, "csv", str(safe))
    export(store, "csv", str(raw), raw=True)
    assert pd.read_csv(safe)["host"].tolist() == ["'=cmd"]
    assert pd.read_csv(raw)["host"].tolist() == ["=cmd"]
    marx = tmp_path / "m.csv"
    assert cli(["export", "--store", str(tmp_path / "s"), "--format", "marx", "--raw", "-o", str(marx)]) == 0
    assert pd.read_csv(marx)["host"].tolist() == ["=cmd"]


def test_store_layer_imports_no_higher_layer():
    """store/ (and schema) import neither render/, analyse/ nor cli/ (export moved to render/)."""
    bad = []
    for f in sorted((SRC / "store").glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad += [f"{f.name}: {n}" for n in names
                    if n.startswith(("honeyscope.render", "honeyscope.analyse", "honeyscope.cli"))]
    assert bad == []


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_empty_selection_exports_a_well_formed_empty_file(tmp_path, fmt):
    from datetime import date

    store = _store(tmp_path, ["Mar  3 21:53:59"])
    out = tmp_path / f"p.{fmt}"
    assert export(store, fmt, str(out), start=date(2014, 1, 1)) == 0
    text = out.read_text()
    assert (text.startswith("time,") if fmt == "csv" else text == "")
