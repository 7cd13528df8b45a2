"""The store's guarantees: idempotent re-ingest, growth, atomic commits, locking, export round trip."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import bundled
from honeyscope import api
from honeyscope.render.export import export
from honeyscope.store.store import Store, StoreBusyError

HEADER = b"datetime,host,src,proto,type,spt,dpt\n"


def _csv(rows: int, start: int = 0) -> bytes:
    lines = [
        f"2013-03-0{1 + (i % 5)} 12:00:{i % 60:02d},h{i % 3},{16843009 + i},TCP,,{1000 + i % 60000},{i % 100}"
        for i in range(start, start + rows)
    ]
    return "\n".join(lines).encode() + b"\n"


def test_reingest_adds_nothing_even_under_another_name(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes(HEADER + _csv(50))
    s = tmp_path / "store"
    first = api.ingest([str(f)], s)
    assert first.rows == 50
    again = api.ingest([str(f)], s)
    assert again.rows == 0 and again.inputs[0].status == "skipped: already ingested"
    copy = tmp_path / "copy.csv"
    shutil.copy(f, copy)
    assert api.ingest([str(copy)], s).rows == 0
    assert Store(s).table().num_rows == 50


def test_compressed_inputs_recognised_by_content(tmp_path):
    data = HEADER + _csv(30)
    import bz2
    import lzma

    import zstandard

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.log").write_bytes(gzip.compress(data))  # name says nothing
    (tmp_path / "in" / "y").write_bytes(bz2.compress(HEADER + _csv(30, 100)))
    (tmp_path / "in" / "z.txt").write_bytes(lzma.compress(HEADER + _csv(30, 200)))
    (tmp_path / "in" / "w.dat").write_bytes(zstandard.ZstdCompressor().compress(HEADER + _csv(30, 300)))
    led = api.ingest([str(tmp_path / "in")], tmp_path / "s")
    assert led.rows == 120
    assert sorted(i.compression for i in led.inputs) == ["bzip2", "gzip", "xz", "zstd"]


@pytest.mark.slow  # more than 3 s on 2 cores (CI runs it)
def test_marx_roundtrip_is_byte_identical(tmp_path):
    src = bundled("marx.csv.gz")
    s = tmp_path / "s"
    led = api.ingest([str(src)], s)
    assert led.rows == 451_581 and led.rejected() == {}
    out = tmp_path / "out.csv"
    assert export(Store(s), "marx", str(out)) == 451_581
    assert out.read_bytes() == gzip.open(src).read()


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_export_formats_carry_every_column(tmp_path, fmt):
    f = tmp_path / "a.csv"
    f.write_bytes(HEADER + _csv(10))
    s = tmp_path / "s"
    api.ingest([str(f)], s)
    out = tmp_path / f"out.{fmt}"
    export(Store(s), fmt, str(out))
    documented = _readme_columns()  # the README's schema table: names and Arrow types
    if fmt == "parquet":
        assert [(f.name, str(f.type)) for f in pq.read_schema(out)] == documented
        return
    if fmt == "csv":
        names = out.read_text().splitlines()[0].split(",")
    else:
        names = list(json.loads(out.read_text().splitlines()[0]))
    assert names == [n for n, _ in documented]


def _readme_columns() -> list[tuple[str, str]]:
    """(column, Arrow type) rows of the README's table of the store's columns."""
    import re

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = text[text.index("| column | type | meaning |"):].split("\n\n")[0]
    return re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", table, re.M)


def test_csv_export_defuses_formulas(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes(HEADER + b"2013-03-03 21:53:59,=HYPERLINK(1),16843009,TCP,,1,2\n")
    s = tmp_path / "s"
    api.ingest([str(f)], s)
    out = tmp_path / "o.csv"
    export(Store(s), "csv", str(out))
    assert "'=HYPERLINK(1)" in out.read_text()


def test_second_writer_is_refused_with_a_clear_message(tmp_path):
    st = Store(tmp_path / "s", create=True)
    with st.lock(), pytest.raises(StoreBusyError, match="another ingest is writing"):
        with Store(tmp_path / "s").lock(wait=0):
            pass


def _ingest_script(store: Path, inputs: list[Path]) -> str:
    return textwrap.dedent(
        f"""
        import sys
        from honeyscope import api
        api.ingest({[str(i) for i in inputs]!r}, {str(store)!r}, wait=None)
        """
    )


def _killed_after(code: str, store: Path, seconds: float):
    """Run the ingest ``code`` in a process killed (SIGKILL) after ``seconds``: the store as it
    left it, and its (source, line) table."""
    p = subprocess.Popen([sys.executable, "-c", code])
    time.sleep(seconds)
    p.kill()
    p.wait()
    st = Store(store)
    return st, st.table(["source", "line"])


@pytest.mark.slow
def test_kill_9_at_any_moment_leaves_whole_inputs(tmp_path):
    """Kill ingests at many moments; the store always holds whole inputs, never duplicates."""
    inputs = []
    for k in range(6):
        f = tmp_path / f"in{k}.csv"
        f.write_bytes(HEADER + _csv(20_000, k * 100_000))
        inputs.append(f)
    store = tmp_path / "s"
    Store(store, create=True)
    code = _ingest_script(store, inputs)
    delays = [0.3, 0.6, 0.9, 1.2, 1.5, 1.8, 2.2]
    for d in delays:
        st, t = _killed_after(code, store, d)
        committed = {i["source"] for i in st.inputs}
        assert t.num_rows == 20_000 * len(committed)  # whole inputs only
        assert t.num_rows == len(set(zip(t.column("source").to_pylist(),
                                         t.column("line").to_pylist(), strict=True)))
    subprocess.run([sys.executable, "-c", code], check=True)
    st = Store(store)
    assert st.table(["line"]).num_rows == 20_000 * 6
    leftovers = {p for p in (store / "packets").rglob("*.parquet")} - set(st.packet_files())
    assert not leftovers or not (store / "staging").exists()


def _tiny_logs(d: Path, n: int) -> list[Path]:
    """``n`` one-line logs (a fleet's hourly files), each a different packet."""
    d.mkdir(exist_ok=True)
    out = []
    for i in range(n):
        f = d / f"h{i:04d}.log"
        f.write_text(f"Mar  3 21:{i // 60 % 60:02d}:{i % 60:02d} h{i % 3} kernel: [UFW BLOCK] IN=eth0 "
                     f"OUT= SRC=10.0.{i // 256}.{i % 256} DST=172.30.0.64 LEN=40 TTL=41 ID=1 PROTO=TCP "
                     "SPT=43861 DPT=23 WINDOW=24253 RES=0x00 SYN URGP=0\n")
        os.utime(f, (1.7e9, 1.7e9))
        out.append(f)
    return out


def test_an_ingest_of_many_files_writes_the_manifest_once_per_group(tmp_path, monkeypatch):
    """Inputs committed within a group are written together: 25 files, one manifest write (the
    group not due before the end), every input recorded, and a second ingest adds nothing."""
    import honeyscope.store.store as st

    logs = _tiny_logs(tmp_path / "logs", 25)
    Store(tmp_path / "s", create=True)
    writes = []
    real = Store._write_manifest
    monkeypatch.setattr(st, "GROUP_SECONDS", 3600.0)
    monkeypatch.setattr(Store, "_write_manifest", lambda self, m: (writes.append(len(m["inputs"])),
                                                                  real(self, m))[1])
    led = api.ingest([str(f) for f in logs], tmp_path / "s")
    assert (led.rows, writes) == (25, [25])
    store = Store(tmp_path / "s")
    assert sorted(r.source for r in store.records) == sorted(str(f) for f in logs)
    assert store.table(["src"]).num_rows == 25
    led = api.ingest([str(f) for f in logs], tmp_path / "s")
    assert (led.rows, {i.status for i in led.inputs}, writes) == (
        0, {"skipped: already ingested"}, [25])


def test_a_group_whose_manifest_cannot_be_written_leaves_the_store_as_it_was(tmp_path, monkeypatch,
                                                                           capsys):
    """A full disk when a group's manifest is written: exit 1, one line saying which inputs are not
    in the store; the store as before; ingested again later, each input counts once."""
    import errno

    import honeyscope.store.store as st
    from honeyscope.cli import main as cli

    logs = _tiny_logs(tmp_path / "logs", 12)
    store = tmp_path / "s"
    api.ingest([str(logs[0])], store)
    before = (store / "manifest.json").read_bytes()

    def full(self, m):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(st, "GROUP_SECONDS", 3600.0)
    monkeypatch.setattr(Store, "_write_manifest", full)
    assert cli(["ingest", str(tmp_path / "logs"), "--store", str(store)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0], err
    assert "the 11 input(s) committed since its last write are not in the store" in err[0]
    monkeypatch.undo()
    assert (store / "manifest.json").read_bytes() == before
    led = api.ingest([str(tmp_path / "logs")], store)
    assert led.rows == 11
    assert Store(store).table(["src"]).num_rows == 12


@pytest.mark.slow
def test_kill_9_during_an_ingest_of_many_files_leaves_whole_inputs_once(tmp_path):
    """Kill an ingest of 400 small files at several moments (its manifest is written about once a
    second): whole inputs only, no duplicates, and an ingest run to its end has each file once."""
    logs = _tiny_logs(tmp_path / "logs", 400)
    store = tmp_path / "s"
    Store(store, create=True)
    code = _ingest_script(store, [tmp_path / "logs"])
    for d in (0.8, 1.6, 2.4):
        st, t = _killed_after(code, store, d)
        assert t.num_rows == len(st.inputs)  # one row per committed one-line input
        assert len(set(t.column("source").to_pylist())) == t.num_rows
    subprocess.run([sys.executable, "-c", code], check=True)
    st = Store(store)
    assert sorted(st.table(["source"]).column("source").to_pylist()) == sorted(map(str, logs))
    assert not set((store / "packets").rglob("*.parquet")) - set(st.packet_files()) or \
        not (store / "staging").exists()


def test_manifest_text_is_json_with_a_record_per_line():
    """The manifest as written: the JSON it was, a record per line, whatever its texts hold."""
    from honeyscope.store.store import _manifest_text

    m = {"format": "honeyscope-store", "version": 1, "inputs": [
        {"source": 'a\n "inputs": []', "parts": ["p/1.parquet"], "rows": 1},
        {"source": "b", "meta": {"inputs": []}, "rows": 2}],
        "meta": {"x": {"inputs": []}, "inputs": []}}
    text = _manifest_text(m)
    assert json.loads(text) == m
    lines = text.splitlines()
    assert [json.loads(ln.strip().rstrip(",")) for ln in lines if ln.startswith("  {")] == m["inputs"]
    assert json.loads(_manifest_text({**m, "inputs": []})) == {**m, "inputs": []}


def test_grown_log_adds_only_new_lines(tmp_path):
    f = tmp_path / "live.csv"
    f.write_bytes(HEADER + _csv(10))
    s = tmp_path / "s"
    api.ingest([str(f)], s)
    with open(f, "ab") as fh:
        fh.write(_csv(5, 1000))
    led = api.ingest([str(f)], s)
    assert led.inputs[0].status == "grown"
    t = Store(s).table(["line", "src_int"]).sort_by("line")
    assert t.num_rows == 15
    assert t.column("line").to_pylist() == list(range(2, 17))


def test_open_store_gives_arrow_polars_pandas(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes(HEADER + _csv(7))
    s = tmp_path / "s"
    api.ingest([str(f)], s)
    h = api.open_store(s)
    assert h.arrow().num_rows == 7 and h.polars().height == 7 and len(h.pandas()) == 7
    assert h.packets().count().execute() == 7
    # the documented columns only: no partition column sneaks in
    assert h.packets().columns == tuple(n for n, _ in _readme_columns())
    assert h.meta["enrichment"]["built"]  # the offline database's build date, recorded
    assert os.path.exists(s / "manifest.json")


def test_store_by_url_reads_only_committed_files(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes(HEADER + _csv(12))
    s = tmp_path / "s"
    api.ingest([str(f)], s)
    stray = s / "packets" / "2013-03" / "left-by-a-killed-ingest.parquet"
    shutil.copy(Store(s).packet_files()[0], stray)  # moved in, never committed
    t = api.open_packets(s.resolve().as_uri())
    assert t.count().execute() == 12


def test_manifest_records_are_typed_and_round_trip():
    """A manifest entry read as :class:`InputRecord` and written back is the entry it was (keys,
    order, keys the record does not know); its content key follows the store's history."""
    from honeyscope.store.store import InputRecord

    d = {"source": "kern.log", "kind": "log", "compression": None, "start_byte": 0,
         "end_byte": 120, "sha256": "ab", "lines": 3, "options": {"year": None},
         "id": "x1", "parts": ["packets/2024-01/x1-00001.parquet"], "reject_parts": [],
         "rows": 2, "rejected": {"not a packet": 1}, "hosts": {"s1": 2},
         "committed": "2024-01-02T00:00:00+00:00", "spool": {"segment": 4}}
    r = InputRecord.from_dict(d)
    assert (r.source, r.rows, r.rejected_total, r.extra) == ("kern.log", 2, 1, {"spool": {"segment": 4}})
    assert r.files == ["packets/2024-01/x1-00001.parquet"]
    assert r.to_dict() == d and list(r.to_dict()) == list(d)
    # an older store's plain input: its raw bytes are its text
    assert r.content_key() == (120, "ab")
    # an older store's compressed input: no key; a newer one: the decompressed text's
    assert InputRecord.from_dict({**d, "compression": "gzip"}).content_key() is None
    newer = {**d, "compression": "gzip", "content_bytes": 400, "content_sha256": "cd"}
    assert InputRecord.from_dict(newer).content_key() == (400, "cd")


def test_a_block_is_staged_one_file_per_month_sorted_by_host_then_time(tmp_path):
    """Each month of a block's rows is one file, sorted by (host, time); rows without a time go to
    ``unknown``, a row without a host after the named ones; rows are counted per host."""
    from datetime import UTC, datetime

    import pyarrow as pa

    from honeyscope import schema

    def t(*a: int) -> datetime:
        return datetime(*a, tzinfo=UTC)

    rows = pa.table({
        "line": pa.array([1, 2, 3, 4, 5, 6, 7], pa.uint32()),
        "host": ["b", "a", None, "a", "b", "a", "a"],
        "time": pa.array([t(2024, 2, 10), t(2024, 1, 5, 10), t(2024, 1, 1), t(2024, 1, 5, 9), None, None,
                          t(2024, 2, 1)], schema.TIME_TYPE),
    })
    st = Store(tmp_path / "s", create=True)
    with st.lock():
        tx = st.begin()
        tx.add(rows, schema.REJECT_SCHEMA.empty_table())
        rec = tx.commit({"source": "x"})
    assert [p.split("/")[1] for p in rec["parts"]] == ["2024-01", "2024-02", "unknown"]
    lines = [pq.read_table(tmp_path / "s" / p, columns=["line"]).column("line").to_pylist()
             for p in rec["parts"]]
    assert lines == [[4, 2, 3], [7, 1], [6, 5]]
    assert rec["hosts"] == {"a": 4, "b": 2, "(none)": 1} and rec["rows"] == 7
