"""The HTML report at fleet scale: wall, CPU and peak memory of ``honeyscope report``, step by step.

    .venv/bin/python benchmarks/bench_report_scale.py --rows 1e6            # generate, then report
    .venv/bin/python benchmarks/bench_report_scale.py --rows 1e7 --workdir /tmp/fleet --keep
    .venv/bin/python benchmarks/bench_report_scale.py --store /tmp/fleet/store-10000000 --steps

A fleet store (``honeyscope generate``: 50 sensors, 180 days, seed 1 by default) is generated in
``--workdir`` unless one of that size is already there (or ``--store`` names one). Then:

* ``report``: the command itself, ``python -m honeyscope report STORE -o report.html``, as a child
  process: wall time, CPU seconds (user+sys of it and its children: the second report process is
  one) and peak RSS (the largest max RSS of the process or any of its children, from ``os.wait4``
  and RUSAGE_CHILDREN of the child), and each section module's wall time (from both processes).
* ``--steps``: the same report built on one process, in a child that times every step the report
  names (each section and each sub-step: ``summary``, ``daily counts``, ``origin section``, ...):
  wall and CPU seconds of each, and that child's peak RSS. The sum of the steps is more than the
  report's wall time on two processes, which builds the halves side by side.

Prints the machine's load average before and after each run: the timings are noisy on a shared
machine; compare runs made in one sitting.
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

STEPS_CHILD = """
import json, resource, sys, time
t_start = time.perf_counter()
from honeyscope import api
from honeyscope.analyse import engine as eng
from honeyscope.render.report import ReportOptions, build_report

marks = []
def step(msg):
    marks.append((msg, time.perf_counter(), time.process_time(),
                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))

store = api.open_store(sys.argv[1])
con = eng.connect()
files = [str(f) for f in store.packet_files()]
packets = eng.packets_from_files(con, files)
meta = dict(store.meta) | {"rejects_by_host_day": store.rejects_by_host_day()}
step("start (context: selection, counts)")
res = build_report(packets, sys.argv[2], opts=ReportOptions(), ledger=store.ledger(), meta=meta,
                   progress=step, files=files, two_processes_from=10**18)
step("write")
steps = []
for (name, w0, c0, _), (_, w1, c1, m1) in zip(marks, marks[1:]):
    steps.append([name, w1 - w0, c1 - c0, m1 / 1024])
print(json.dumps({"steps": steps, "timings": res["timings"],
                  "imports": marks[0][1] - t_start,
                  "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def run_child(args: list[str], timeout: float = 7200) -> dict:
    """Run a child: wall, CPU (user+sys of it and its reaped children), peak RSS (KiB), stdout."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, etext = out.read().decode(), err.read().decode()
    if code:
        raise RuntimeError(f"{args[:4]} failed ({code}):\n{etext[-3000:]}")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_kib": ru.ru_maxrss,
            "stdout": text, "stderr": etext}


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", default="1e6", help="rows of the generated store (default 1e6)")
    ap.add_argument("--sensors", type=int, default=50)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--store", help="an existing store (no generation)")
    ap.add_argument("--workdir", help="where the store and report go (default: a temporary dir)")
    ap.add_argument("--keep", action="store_true", help="keep the generated store")
    ap.add_argument("--steps", action="store_true", help="also time each step on one process")
    ap.add_argument("--no-report", action="store_true", help="skip the whole `honeyscope report`")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each measurement")
    a = ap.parse_args()
    py = sys.executable
    work = Path(a.workdir or tempfile.mkdtemp(prefix="honeyscope-report-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = int(float(a.rows))
    made = False
    if a.store:
        store = Path(a.store)
    else:
        store = work / f"store-{rows}-{a.sensors}x{a.days}-s{a.seed}"
        if not (store / "manifest.json").exists():
            shutil.rmtree(store, ignore_errors=True)
            r = run_child([py, "-m", "honeyscope", "generate", "--rows", str(rows), "--sensors",
                           str(a.sensors), "--days", str(a.days), "--seed", str(a.seed),
                           "--store", str(store)])
            made = True
            print(f"generate {rows:,} rows: wall {r['wall']:.1f} s, cpu {r['cpu']:.1f} s, "
                  f"peak {r['rss_kib'] / 1024:.0f} MiB ({load()})", flush=True)
    size = sum(f.stat().st_size for f in store.rglob("*.parquet"))
    print(f"store {store}: {size / 1e6:.0f} MB of Parquet; {os.cpu_count()} cores", flush=True)
    out = work / "report.html"
    try:
        for _ in range(a.repeat):
            if not a.no_report:
                before = load()
                r = run_child([py, "-m", "honeyscope", "report", str(store), "-o", str(out)])
                print(f"report: wall {r['wall']:.1f} s, cpu {r['cpu']:.1f} s (with children), "
                      f"peak RSS {r['rss_kib'] / 1024:.0f} MiB (largest process); "
                      f"{out.stat().st_size / 1e6:.1f} MB of HTML; {before} → {load()}", flush=True)
            if a.steps:
                before = load()
                r = run_child([py, "-c", STEPS_CHILD, str(store), str(out)])
                info = json.loads(r["stdout"].strip().splitlines()[-1])
                print(f"one process: wall {r['wall']:.1f} s, cpu {r['cpu']:.1f} s, peak RSS "
                      f"{info['rss_kib'] / 1024:.0f} MiB; imports {info['imports']:.1f} s; "
                      f"{before} → {load()}")
                print(f"  {'step':<36} {'wall s':>8} {'cpu s':>8} {'peak so far MiB':>16}")
                for name, w, c, m in info["steps"]:
                    print(f"  {name[:36]:<36} {w:8.2f} {c:8.2f} {m:16.0f}")
                print(flush=True)
    finally:
        if made and not a.keep:
            shutil.rmtree(store, ignore_errors=True)
        if not a.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
