"""Ingest spread over workers (ingest/distributed.py) gives the store a local ingest gives.

The fast tests run the worker tasks with plain ``map`` in this process; the ``slow`` one runs
them on a real standalone Spark cluster (master + worker on 127.0.0.1), always stopped.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys

import pytest

from conftest import needs_spark
from honeyscope import api
from honeyscope.ingest import distributed
from honeyscope.store.store import Store
from honeyscope.synth import fleet

SPEC = fleet.FleetSpec(sensors=4, rows=20_000, seed=11, days=5)
KEY = [("source", "ascending"), ("line", "ascending")]


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """Four sensors' logs, one gzipped, plus a file with lines that are not packets."""
    d = tmp_path_factory.mktemp("logs")
    files = fleet.write_logs(SPEC, d)
    (d / "fleet.json").unlink()
    gz = files[0].with_suffix(".log.gz")
    gz.write_bytes(gzip.compress(files[0].read_bytes()))
    files[0].unlink()
    (d / "noise.log").write_bytes(
        b"Jan  3 10:00:00 box kernel: something else entirely\n"
        b"not a log line at all\n"
        + files[1].read_bytes().splitlines(keepends=True)[0])
    return d


def _same_store(a: Store, b: Store) -> None:
    ta, tb = a.table().sort_by(KEY), b.table().sort_by(KEY)
    assert ta.num_rows == tb.num_rows > 0
    assert ta.equals(tb)
    ra, rb = a.rejects().sort_by(KEY), b.rejects().sort_by(KEY)
    assert ra.num_rows == 2 and ra.equals(rb)
    la, lb = a.ledger(), b.ledger()
    for k in ("lines", "rows", "rejected", "hosts", "rejected_total"):
        assert la[k] == lb[k], k
    fields = ("source", "kind", "compression", "start_byte", "end_byte", "sha256", "start_line",
              "end_line", "lines", "rows", "rejected", "hosts", "options")
    def records(st: Store) -> list[dict]:
        return sorted(({k: i[k] for k in fields} for i in st.inputs),
                      key=lambda r: (r["source"], r["start_byte"]))

    assert records(a) == records(b)


def _python_map(fn, tasks):
    return list(map(fn, tasks))


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_same_store_as_local_ingest(logs, tmp_path):
    local = api.ingest([str(logs)], tmp_path / "local")
    dist = distributed.ingest_distributed([str(logs)], tmp_path / "dist", _python_map)
    assert [e.status for e in dist.inputs] == ["added"] * 5
    assert dist.rows == local.rows == 20_001 and dist.lines == local.lines
    assert dist.rejected() == local.rejected() and dist.hosts() == local.hosts()
    _same_store(Store(tmp_path / "dist"), Store(tmp_path / "local"))
    assert not any((tmp_path / "dist" / "staging").glob("*/*"))  # nothing left staged
    # the same files again: all skipped, nothing added
    again = distributed.ingest_distributed([str(logs)], tmp_path / "dist", _python_map)
    assert {e.status for e in again.inputs} == {"skipped: already ingested"}
    assert Store(tmp_path / "dist").ledger()["rows"] == 20_001


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_grown_file_goes_the_local_way(logs, tmp_path):
    d = tmp_path / "in"
    shutil.copytree(logs, d)
    f = next(p for p in sorted(d.glob("*.log")) if p.name != "noise.log")
    text = f.read_bytes().splitlines(keepends=True)
    f.write_bytes(b"".join(text[:100]))
    distributed.ingest_distributed([str(f)], tmp_path / "dist", _python_map)
    api.ingest([str(f)], tmp_path / "local")
    with open(f, "ab") as out:  # the log grows (same mtime rule: appended, as syslog does)
        out.write(b"".join(text[100:]))
    led = distributed.ingest_distributed([str(d)], tmp_path / "dist", _python_map)
    status = {e.source: e.status for e in led.inputs}
    assert status[str(f.resolve())] == "grown"
    assert sorted(status.values()).count("added") == 4
    api.ingest([str(d)], tmp_path / "local")
    _same_store(Store(tmp_path / "dist"), Store(tmp_path / "local"))


def test_a_failing_worker_leaves_the_store_as_it_was(logs, tmp_path):
    def boom(fn, tasks):
        fn(tasks[0])  # stages files, then the "cluster" fails
        raise RuntimeError("executor lost")

    Store(tmp_path / "dist", create=True)
    with pytest.raises(RuntimeError):
        distributed.ingest_distributed([str(logs)], tmp_path / "dist", boom)
    st = Store(tmp_path / "dist")
    assert st.inputs == [] and st.table().num_rows == 0
    assert not list((tmp_path / "dist").rglob("*.parquet"))


def test_stdin_is_refused(tmp_path):
    with pytest.raises(ValueError, match="standard input"):
        distributed.ingest_distributed(["-"], tmp_path / "s", _python_map)


# -- on a real standalone cluster ----------------------------------------------------------------
@pytest.mark.slow
@needs_spark
def test_on_a_standalone_cluster(logs, tmp_path):
    """``honeyscope ingest --engine spark://...`` on a real master + worker."""
    import json

    from honeyscope.ops.spark_cluster import StandaloneCluster

    c = StandaloneCluster(cores=2, memory="4g", timeout=120)
    try:
        c.start()
        r = subprocess.run(
            [sys.executable, "-m", "honeyscope", "ingest", str(logs),
             "--store", str(tmp_path / "dist"), "--engine", c.url, "--json"],
            capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
        )
        st = c._status()
    finally:
        c.stop()
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    apps = st.get("completedapps", []) + st.get("activeapps", [])
    assert [a["id"][:4] for a in apps] == ["app-"]  # one standalone-cluster application ran
    assert [i["status"] for i in out["inputs"]] == ["added"] * 5 and out["rows"] == 20_001
    api.ingest([str(logs)], tmp_path / "local")
    _same_store(Store(tmp_path / "dist"), Store(tmp_path / "local"))
