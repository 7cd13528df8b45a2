"""Scale benchmark: time and peak memory of generating a fleet and of the main analyses.

    .venv/bin/python benchmarks/bench_scale.py            # 10^6 and 10^7 rows, Spark at 10^6
    .venv/bin/python benchmarks/bench_scale.py --big      # adds 10^8 rows
    .venv/bin/python benchmarks/bench_scale.py --rows 1e5 --spark-rows 1e5   # a quick look
    .venv/bin/python benchmarks/bench_scale.py --rows 1e6 --ingest-rows 1e6 --no-spark

Steps per size: ``generate`` (the fleet straight into a store, on both cores), ``logs`` and
``ingest`` (the same fleet as raw syslog files, then ``honeyscope.api.ingest`` of them into a
fresh store: the real path), ``prune`` (what DuckDB reads for one sensor / one week against the
whole store, from its profiler: row groups and bytes), and the analyses on DuckDB.

Every step runs in its own child process; its peak memory is the child's max RSS from
``os.wait4`` (for Spark, the JVM's too: the child stops its gateway JVM, waits for it and adds its
RUSAGE_CHILDREN max RSS). The analyses read the store where it lies (Parquet), never the whole
table into memory. Prints one table and the growth per step from the smallest size to each larger.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ANALYSES = {
    "daily": "explore.daily(t)",
    "unique": "explore.daily(t, unique=True)",
    "ports": "explore.ports(t)",
    "port_sources": "explore.port_sources(t)",
    "summary": "explore.summary(t)",
}

INGEST_STEP = """
import json, resource, sys, time
from honeyscope import api
t0 = time.perf_counter()
ledger = api.ingest([sys.argv[1]], sys.argv[2])
# the parser pool has been shut down and reaped: its workers' peak is in RUSAGE_CHILDREN
print(json.dumps({"rows": ledger.rows, "lines": ledger.lines, "bytes": ledger.bytes,
                  "seconds": time.perf_counter() - t0,
                  "workers_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""

PRUNE_STEP = """
import json, os, sys, tempfile, time
import duckdb
from honeyscope import api
st = api.open_store(sys.argv[1])
files = [str(f) for f in st.packet_files()]
host = sys.argv[2]
prof = os.path.join(tempfile.mkdtemp(), "profile.json")
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f"SET enable_profiling = 'json'; SET profiling_mode = 'detailed'; "
            f"SET profiling_output = '{prof}'")
src = "read_parquet([" + ",".join("'" + f + "'" for f in files) + "])"
out = {}
week = "time >= TIMESTAMPTZ '2024-01-08' AND time < TIMESTAMPTZ '2024-01-15'"
# each filter against the same scan (same columns) with a filter that prunes nothing
for name, where in (("all:sensor", "host IS NOT NULL"), ("sensor", f"host = '{host}'"),
                    ("all:week", "time IS NOT NULL"), ("week", week)):
    t0 = time.perf_counter()
    n = con.execute(f"SELECT count(*), sum(len) FROM {src} WHERE {where}").fetchall()[0][0]
    dt = time.perf_counter() - t0
    def scans(node):
        if node.get("type") == "TABLE_SCAN":
            yield node
        for c in node.get("children", []):
            yield from scans(c)
    p = json.load(open(prof))
    sc = [x for op in p["operator"] for x in scans(op)]
    out[name] = {"rows": n, "seconds": dt,
                 "row_groups": sum(x.get("row_groups_scanned", 0) for x in sc),
                 "row_groups_total": sum(x.get("total_row_groups_to_scan", 0) for x in sc),
                 "bytes": sum(x.get("bytes_scanned", 0) for x in sc)}
print(json.dumps(out))
"""

DUCK_STEP = """
import json, sys, time
from honeyscope import api
from honeyscope.analyse import engine, explore
t0 = time.perf_counter()
t = engine.packets_from_files(engine.connect(), api.open_store(sys.argv[1]).packet_files())
df = {call}
print(json.dumps({{"rows_out": len(df), "seconds": time.perf_counter() - t0}}))
"""

SPARK_STEP = """
import json, resource, sys, time
from honeyscope import api
from honeyscope.analyse import explore, spark
calls = json.loads(sys.argv[2])
t0 = time.perf_counter()
con = spark.connect(sys.argv[3])
t = spark.packets_from_files(con, api.open_store(sys.argv[1]).packet_files())
t.count().execute()
out = {{"startup": time.perf_counter() - t0}}
for name, call in calls.items():
    t1 = time.perf_counter()
    try:
        df = eval(call)
        out[name] = time.perf_counter() - t1
    except Exception as e:
        out[name] = f"failed: {{type(e).__name__}}"
sc = con._session.sparkContext
gateway = sc._gateway
con._session.stop()
proc = getattr(gateway, "proc", None)
gateway.shutdown()
if proc is not None:
    proc.stdin.close() if proc.stdin else None
    proc.terminate()
    proc.wait(timeout=60)
out["jvm_rss_kib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps(out))
"""


def run_child(args: list[str], timeout: float = 7200) -> tuple[float, int, str]:
    """Run a child; (wall seconds, its max RSS in KiB, its stdout)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                os.wait4(p.pid, 0)
                raise TimeoutError(f"{args[:3]} took over {timeout} s")
            time.sleep(0.05)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        text = out.read().decode()
        if p.returncode:
            raise RuntimeError(f"{args[:4]} failed ({p.returncode}):\n{err.read().decode()[-3000:]}")
    return wall, ru.ru_maxrss, text


def fmt_rows(n: int) -> str:
    e = len(str(n)) - 1
    return f"10^{e}" if n == 10**e else f"{n:,}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", default="1e6,1e7", help="comma-separated sizes (default 1e6,1e7)")
    ap.add_argument("--big", action="store_true", help="also 10^8 rows")
    ap.add_argument("--ingest-rows", default=None,
                    help="sizes for the raw-log ingest (default: as --rows; with --big 10^8 too)")
    ap.add_argument("--no-ingest", action="store_true")
    ap.add_argument("--only", help="comma-separated steps to run (generate is implied)")
    ap.add_argument("--spark-rows", type=float, default=1e6, help="size for DuckDB vs Spark")
    ap.add_argument("--spark", default="local[2]", help="Spark master (default local[2])")
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--sensors", type=int, default=50)
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--workdir", help="where stores go (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the generated stores")
    ap.add_argument("--json", help="also write the measurements to this JSON file")
    a = ap.parse_args()
    sizes = sorted({int(float(x)) for x in a.rows.split(",")} | ({10**8} if a.big else set()))
    ingest_sizes = sizes if a.ingest_rows is None else sorted(
        {int(float(x)) for x in a.ingest_rows.split(",")})
    only = set(a.only.split(",")) if a.only else None

    def wanted(step: str) -> bool:
        return only is None or step in only
    work = Path(a.workdir or tempfile.mkdtemp(prefix="honeyscope-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    results: list[dict] = []

    def record(rows: int, step: str, engine: str, seconds: float, rss_kib: int, note: str = ""):
        r = {"rows": rows, "step": step, "engine": engine, "seconds": round(seconds, 2),
             "peak_mib": round(rss_kib / 1024), "note": note}
        results.append(r)
        print(f"  {fmt_rows(rows):>6} {step:<13} {engine:<9} {seconds:8.2f} s "
              f"{rss_kib / 1024:8.0f} MiB {note}", flush=True)

    def store_for(rows: int) -> Path:
        st = work / f"store-{rows}"
        if not (st / "manifest.json").exists():
            shutil.rmtree(st, ignore_errors=True)
            wall, rss, _ = run_child([py, "-m", "honeyscope", "generate", "--rows", str(rows),
                                      "--sensors", str(a.sensors), "--days", str(a.days),
                                      "--seed", "1", "--store", str(st), "--workers", "2"])
            record(rows, "generate", "numpy", wall, rss,
                   f"{a.sensors} sensors, {a.days} days, 2 processes")
        return st

    def ingest(rows: int) -> None:
        logs, st = work / f"logs-{rows}", work / f"ingested-{rows}"
        if not (logs / "fleet.json").exists():
            shutil.rmtree(logs, ignore_errors=True)
            wall, rss, _ = run_child([py, "-m", "honeyscope", "generate", "--rows", str(rows),
                                      "--sensors", str(a.sensors), "--days", str(a.days),
                                      "--seed", "1", "--logs", str(logs), "--workers", "2"])
            size = sum(f.stat().st_size for f in logs.glob("*.log"))
            record(rows, "logs", "numpy", wall, rss,
                   f"raw syslog, {size / 1e9:.2f} GB ({size / rows:.0f} B/line), 2 processes")
        shutil.rmtree(st, ignore_errors=True)
        wall, rss, out = run_child([py, "-c", INGEST_STEP, str(logs), str(st)])
        info = json.loads(out.strip().splitlines()[-1])
        record(rows, "ingest", "api", wall, rss,
               f"{info['rows']:,} rows, {info['lines'] / info['seconds']:,.0f} lines/s, "
               f"{info['bytes'] / 1e6 / info['seconds']:.0f} MB/s; peak: driver "
               f"(largest worker {info['workers_rss_kib'] / 1024:.0f} MiB)")
        if not a.keep:
            shutil.rmtree(st, ignore_errors=True)
            shutil.rmtree(logs, ignore_errors=True)

    def prune(rows: int, st: Path) -> None:
        import pyarrow.parquet as pq

        first = next(iter(sorted((st / "packets").rglob("*.parquet"))))
        host = pq.read_table(first, columns=["host"]).column("host")[0].as_py()
        _, _, out = run_child([py, "-c", PRUNE_STEP, str(st), host])
        info = json.loads(out.strip().splitlines()[-1])
        for name in ("sensor", "week"):
            x, whole = info[name], info[f"all:{name}"]
            record(rows, f"prune:{name}", "duckdb", x["seconds"], 0,
                   f"{x['row_groups']}/{whole['row_groups_total']} row groups, "
                   f"{x['bytes'] / 1e6:.1f}/{whole['bytes'] / 1e6:.1f} MB read, "
                   f"{x['rows']:,} of {whole['rows']:,} rows (all: {whole['seconds']:.2f} s)")

    print(f"honeyscope scale benchmark: {os.cpu_count()} cores, work dir {work}")
    print(f"  {'rows':>6} {'step':<13} {'engine':<9} {'time':>10} {'peak RSS':>12}")
    for rows in sizes:
        st = store_for(rows)
        if wanted("prune"):
            prune(rows, st)
        for name, call in ANALYSES.items():
            if not wanted(name):
                continue
            wall, rss, out = run_child([py, "-c", DUCK_STEP.format(call=call), str(st)])
            info = json.loads(out.strip().splitlines()[-1])
            record(rows, name, "duckdb", wall, rss,
                   f"query {info['seconds']:.2f} s (rest: start-up), {info['rows_out']} rows out")
    if not a.no_ingest and wanted("ingest"):
        for rows in ingest_sizes:
            ingest(rows)
    if not a.no_spark and wanted("spark"):
        rows = int(a.spark_rows)
        st = store_for(rows)
        wall, rss, out = run_child([py, "-c", SPARK_STEP.format(), str(st), json.dumps(ANALYSES),
                                    a.spark])
        info = json.loads(out.strip().splitlines()[-1])
        jvm = info.pop("jvm_rss_kib")
        record(rows, "startup", "spark", info.pop("startup"), max(rss, jvm),
               f"{a.spark}; peak = JVM + Python over the whole session")
        for name, v in info.items():
            if isinstance(v, str):
                record(rows, name, "spark", float("nan"), 0, v)
            else:
                record(rows, name, "spark", v, 0, "(in the session above)")

    print("\ngrowth (time ratio from the smallest size; linear = size ratio):")
    base = sizes[0]
    for step in ["generate", "logs", "ingest", *ANALYSES]:
        t0 = next((r["seconds"] for r in results
                   if r["rows"] == base and r["step"] == step and r["engine"] != "spark"), None)
        for rows in sizes[1:]:
            t1 = next((r["seconds"] for r in results
                       if r["rows"] == rows and r["step"] == step and r["engine"] != "spark"), None)
            m0 = next((r["peak_mib"] for r in results
                       if r["rows"] == base and r["step"] == step and r["engine"] != "spark"), None)
            m1 = next((r["peak_mib"] for r in results
                       if r["rows"] == rows and r["step"] == step and r["engine"] != "spark"), None)
            if t0 and t1:
                print(f"  {step:<13} x{rows // base} rows: x{t1 / t0:.1f} time, "
                      f"x{(m1 or 0) / max(m0 or 1, 1):.1f} peak memory")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1) + "\n")
    if not a.keep and not a.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
