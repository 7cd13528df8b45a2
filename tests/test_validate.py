"""Hostile options and damaged stores: one line on stderr, a defined exit code, never a traceback.

Issue 9, items 5 (a store without a readable manifest), 12 (damaged Parquet parts, ``verify``),
13 (stale manifest temp files, export's row count) and 16 (every option validated).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import honeyscope
from honeyscope.cli import main as cli
from honeyscope.store.store import MANIFEST, DamagedStoreError, Store

LINE = (
    "Mar  3 10:{m:02d}:00 s{h} kernel: [UFW BLOCK] IN=eth0 OUT= SRC=10.0.{h}.{n} DST=192.0.2.1 LEN=40 "
    "TOS=0x00 PREC=0x00 TTL=41 ID=1 PROTO=TCP SPT=40000 DPT={dpt} WINDOW=1024 RES=0x00 SYN URGP=0"
)


def _log(path: Path, host: int, n: int = 30) -> Path:
    path.write_text("".join(LINE.format(m=k % 60, h=host, n=k % 250 + 1, dpt=22 + k % 3) + "\n"
                            for k in range(n)))
    old = 1_700_000_000  # an old file: read to its end, not held back as live
    os.utime(path, (old, old))
    return path


@pytest.fixture()
def store(tmp_path) -> Path:
    """A store of two inputs: a.log (30 rows, sensor s1) and b.log (20 rows, sensor s2)."""
    s = tmp_path / "store"
    honeyscope.ingest([str(_log(tmp_path / "a.log", 1)), str(_log(tmp_path / "b.log", 2, 20))], s,
                      year=2024)
    return s


def _err_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    return lines[0]


def _part_of(store: Path, source_name: str) -> Path:
    rec = next(i for i in Store(store).inputs if i["source"].endswith(source_name))
    return store / rec["parts"][0]


# --- 16: every option validated ---------------------------------------------------------------


@pytest.mark.parametrize("argv, says", [
    (["ports", "{s}", "--top", "-1"], "--top"),
    (["ports", "{s}", "--top", "ten"], "--top"),
    (["enrich", "{s}", "--top", "-5"], "--top"),
    (["sources", "{s}", "--top", "-1"], "--top"),
    (["source", "10.0.1.1", "{s}", "--limit", "-1"], "--limit"),
    (["scans", "{s}", "--min-ports", "-3"], "--min-ports"),
    (["scans", "{s}", "--top", "-2"], "--top"),
    (["gaps", "{s}", "--min-gap", "-1"], "--min-gap"),
    (["gaps", "{s}", "--alpha", "0"], "--alpha"),
    (["gaps", "{s}", "--alpha", "1"], "--alpha"),
    (["gaps", "{s}", "--alpha", "1.5"], "--alpha"),
    (["gaps", "{s}", "--alpha", "nan"], "--alpha"),
    (["trends", "{s}", "--rise", "tcp/99999", "--split", "2024-03-03"], "65535"),
    (["trends", "{s}", "--rise", "tcp/abc", "--split", "2024-03-03"], "PROTO/PORT"),
    (["trends", "{s}", "--rise", "xyz/23", "--split", "2024-03-03"], "unknown protocol"),
    (["ports", "{s}", "--proto", "xyz"], "unknown protocol"),
    (["port-sources", "{s}", "--proto", "icmp"], "unknown protocol"),
    (["summary", "{s}", "--engine", "localhost"], "unknown engine"),
    (["summary", "{s}", "--engine", "spark://host"], "unknown engine"),
    (["summary", "{s}", "--year", "99999"], "--year"),
    (["summary", "{s}", "--sensor", ""], "--sensor"),
    (["daily", "{s}", "--plot", "{tmp}/missing/dir/x.png"], "does not exist"),
    (["report", "{s}", "-o", "{tmp}/missing/r.html"], "does not exist"),
    (["report", "{s}", "-o", "{tmp}"], "is a directory"),
    (["export", "--store", "{s}", "-o", "{tmp}/missing/x.csv"], "does not exist"),
    (["export", "--store", "{s}", "-o", "{tmp}"], "is a directory"),
    (["export", "--store", "{file}", "-o", "{tmp}/x.csv"], "is a file"),
    (["verify", "--store", "{file}"], "is a file"),
    (["summary", "{tmp}/no-such-store"], "no such file"),
    (["generate", "--rows", "-5", "--logs", "{tmp}/g"], "--rows"),
])
def test_bad_option_is_one_line_usage_error(store, tmp_path, capsys, argv, says):
    f = tmp_path / "a-file"
    f.write_text("x")
    args = [a.format(s=store, tmp=tmp_path, file=f) for a in argv]
    assert cli(args) == 2
    line = _err_line(capsys)
    assert line.startswith("honeyscope") and " error: " in line and says in line, line


def test_good_engine_and_protocol_spellings_accepted():
    from honeyscope.cli.common import engine, port_spec, protocol

    for e in ("duckdb", "local", "local[2]", "local[*]", "spark://10.0.0.1:7077"):
        assert engine(e) == e
    assert protocol("TCP") == "tcp" and protocol("47") == "47" and protocol("all", allow_all=True)
    assert port_spec("udp/53") == ("UDP", 53) and port_spec("tcp/0") == ("TCP", 0)


def test_store_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "s"
    f.write_text("not a store")
    log = _log(tmp_path / "a.log", 1)
    assert cli(["ingest", str(log), "--store", str(f)]) == 2
    assert "is a file" in _err_line(capsys)


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_read_only_store_is_one_line_error(store, tmp_path, capsys, monkeypatch):
    """A read-only store (EROFS at the lock, as a read-only mount gives it): exit 1, one line."""
    import honeyscope.store.store as st

    real_open = os.open

    def ro_open(path, flags, *a, **k):
        if str(path).endswith(".lock"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(st.os, "open", ro_open)
    assert cli(["ingest", str(_log(tmp_path / "c.log", 3)), "--store", str(store)]) == 1
    line = _err_line(capsys)
    assert "Read-only file system" in line and ".lock" in line
    # reading a read-only store needs no write
    monkeypatch.undo()
    assert cli(["summary", str(store)]) == 0


def test_full_disk_is_one_line_error_and_leaves_no_temp_manifest(store, tmp_path, capsys,
                                                                   monkeypatch):
    """ENOSPC while writing the manifest: exit 1, one line naming the cause, the store unchanged
    and no ``.manifest.json.<pid>.tmp`` left behind."""
    import honeyscope.store.store as st

    before = (store / MANIFEST).read_bytes()
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(st.os, "fsync", full)
    assert cli(["ingest", str(_log(tmp_path / "c.log", 3)), "--store", str(store)]) == 1
    monkeypatch.setattr(st.os, "fsync", real_fsync)
    assert "No space left on device" in _err_line(capsys)
    assert (store / MANIFEST).read_bytes() == before
    assert not list(store.glob(".manifest.json.*.tmp"))


def test_chart_onto_full_disk(store, tmp_path, capsys, monkeypatch):
    """ENOSPC when the chart's file is written (matplotlib opens it): exit 1, one line."""
    import builtins

    out = tmp_path / "d.png"
    real = builtins.open

    def full(file, mode="r", *a, **k):
        if str(file) == str(out) and "w" in mode:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))
        return real(file, mode, *a, **k)

    monkeypatch.setattr(builtins, "open", full)
    assert cli(["daily", str(store), "--plot", str(out)]) == 1
    line = _err_line(capsys)
    assert "No space left on device" in line and "d.png" in line


def test_unexpected_exception_is_one_line(monkeypatch, store, capsys):
    from honeyscope.analyse import explore

    def boom(*a, **k):
        raise KeyError("surprise")

    monkeypatch.setattr(explore, "summary", boom)
    assert cli(["summary", str(store)]) == 1
    assert "unexpected KeyError" in _err_line(capsys)


# --- 5: a store without a readable manifest ------------------------------------------------------


@pytest.mark.parametrize("damage", ["missing", "garbage", "not-a-manifest"])
def test_store_without_readable_manifest_is_an_error_everywhere(store, tmp_path, capsys, damage):
    m = store / MANIFEST
    if damage == "missing":
        m.unlink()
    elif damage == "garbage":
        m.write_bytes(b'{"format": "honeyscope-store", "inp')
    else:
        m.write_text(json.dumps({"hello": 1}))
    files = sorted(store.rglob("*"))
    for argv in (["summary", str(store)], ["daily", str(store)], ["scans", str(store)],
                 ["export", "--store", str(store), "-o", str(tmp_path / "x.csv")],
                 ["report", str(store), "-o", str(tmp_path / "r.html")],
                 ["verify", "--store", str(store)],
                 ["ingest", str(_log(tmp_path / "c.log", 3)), "--store", str(store)]):
        assert cli(argv) == 1, argv
        line = _err_line(capsys)
        assert str(store) in line and "manifest" in line, line
    # nothing was ingested into it as "log lines", nothing exported
    assert sorted(store.rglob("*")) == files and not (tmp_path / "x.csv").exists()
    with pytest.raises(DamagedStoreError):
        honeyscope.open_packets(str(store))


# --- 12: damaged parts, verify and repair --------------------------------------------------------


def _damage(part: Path, how: str) -> None:
    if how == "missing":
        part.unlink()
    elif how == "truncated":
        data = part.read_bytes()
        part.write_bytes(data[: len(data) // 2])
    elif how == "zeroed":  # the right size, but the column data destroyed
        data = bytearray(part.read_bytes())
        data[4:-8] = bytes(len(data) - 12)
        part.write_bytes(bytes(data))
    elif how == "other-schema":
        pq.write_table(pq.read_table(part).drop_columns(["dpt"]), part)


@pytest.mark.parametrize("how", ["missing", "truncated", "zeroed", "other-schema"])
def test_verify_finds_the_damaged_part_and_repair_moves_its_input_aside(store, tmp_path, capsys,
                                                                          how):
    bad = _part_of(store, "a.log")
    assert cli(["verify", "--store", str(store)]) == 0
    assert "ok" in capsys.readouterr().out
    _damage(bad, how)
    res = honeyscope.verify_store(store)
    assert not res.ok and [p.part for p in res.problems] == [str(bad.relative_to(store))]
    assert res.problems[0].source.endswith("a.log")
    assert cli(["verify", "--store", str(store)]) == 1
    out = capsys.readouterr()
    assert str(bad.relative_to(store)) in out.out and "Traceback" not in out.err
    # repair: a.log's files go to damaged/, the manifest forgets it, b.log is untouched
    assert cli(["verify", "--store", str(store), "--repair"]) == 0
    capsys.readouterr()
    st = Store(store)
    assert [Path(i["source"]).name for i in st.inputs] == ["b.log"]
    assert st.table().num_rows == 20
    rec_id = res.problems[0].input_id
    assert (store / "damaged" / rec_id / "record.json").is_file()
    assert honeyscope.verify_store(store).ok
    # the input can be ingested again and adds exactly its 30 rows
    led = honeyscope.ingest([str(tmp_path / "a.log")], store, year=2024)
    assert led.to_dict()["rows"] == 30
    assert Store(store).table().num_rows == 50


@pytest.mark.parametrize("how", ["missing", "truncated"])
def test_analyses_name_the_damaged_part_in_one_line(store, capsys, how):
    bad = _part_of(store, "a.log")
    _damage(bad, how)
    for argv in (["summary", str(store)], ["daily", str(store)], ["ports", str(store)]):
        assert cli(argv) == 1, argv
        line = _err_line(capsys)
        assert str(bad) in line and "verify --store" in line, line


def test_ingest_into_store_with_missing_part_warns(store, tmp_path, capsys):
    bad = _part_of(store, "a.log")
    bad.unlink()
    assert cli(["ingest", str(_log(tmp_path / "c.log", 3)), "--store", str(store), "--json"]) == 0
    err = capsys.readouterr().err
    assert "missing" in err and str(bad) in err and "verify --store" in err


def test_verify_counts_rows_against_the_manifest(store):
    """A part replaced by a readable one with other rows: the input's rows no longer add up."""
    bad = _part_of(store, "b.log")
    t = pq.read_table(bad)
    pq.write_table(t.slice(0, 5), bad)
    res = honeyscope.verify_store(store)
    assert len(res.problems) == 1 and "5 rows" in res.problems[0].problem
    assert "20" in res.problems[0].problem


# --- 13: stale manifest temp files; export's row count ------------------------------------------


def test_stale_manifest_temp_file_is_swept_on_next_write(store, tmp_path):
    dead = store / ".manifest.json.999999999.tmp"  # no such pid
    dead.write_text("{half a manifest")
    mine = store / f".manifest.json.{os.getpid()}.tmp"
    mine.write_text("{half")
    honeyscope.ingest([str(_log(tmp_path / "c.log", 3))], store, year=2024)
    assert not dead.exists() and not mine.exists()


def test_export_reports_the_rows_it_wrote(store, tmp_path, capsys):
    from honeyscope.render.export import export

    out = tmp_path / "x.csv"
    assert export(Store(store), "csv", str(out)) == 50
    assert len(out.read_text().splitlines()) == 51  # header + 50 rows, counted independently
    assert cli(["export", "--store", str(store), "--format", "marx", "-o", "-"]) == 0
    cap = capsys.readouterr()
    assert len(cap.out.splitlines()) == 51
    assert cap.err.strip() == "50 rows written → stdout"
