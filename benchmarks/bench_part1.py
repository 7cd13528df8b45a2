"""Part 1 of "Inspecting Internet Traffic" end to end on the bundled marx data, timed per step.

    .venv/bin/python benchmarks/bench_part1.py [OUTDIR]

Steps: load (CSV → canonical Arrow → DuckDB), summary, ICMP types, daily packets, daily distinct
sources, 7-day moving average, and the three charts saved as PNG. The seed's R code takes ~37 s.
Imports are timed separately (a long-running process pays them once).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

T0 = time.perf_counter()
import gzip  # noqa: E402
from importlib import resources  # noqa: E402

from honeyscope.analyse import engine, explore  # noqa: E402
from honeyscope.ingest.seed_csv import read_seed_csv  # noqa: E402
from honeyscope.render import charts, console  # noqa: E402

IMPORTS = time.perf_counter() - T0


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path(tempfile.mkdtemp(prefix="bench_part1_"))
    out.mkdir(parents=True, exist_ok=True)
    steps: list[tuple[str, float]] = []

    def step(name: str, fn):
        t = time.perf_counter()
        result = fn()
        steps.append((name, time.perf_counter() - t))
        return result

    def load():
        path = resources.files("honeyscope") / "data" / "marx.csv.gz"
        rows = read_seed_csv(gzip.decompress(path.read_bytes()), source=str(path)).rows
        con = engine.connect()
        con.con.register("packets", rows)  # zero-copy view of the Arrow table
        return con.table("packets")

    t = step("load marx.csv.gz", load)
    step("summary", lambda: console.summary_text(explore.summary(t)))
    step("icmp types", lambda: console.count_text(explore.count(t, ["icmp_type"]), ["icmp_type"]))
    daily = step("daily packets", lambda: explore.daily(t))
    uniq = step("daily distinct sources", lambda: explore.daily(t, unique=True))
    ma = step("7-day moving average", lambda: explore.daily(t, unique=True, ma=7))
    step("chart all-packets", lambda: charts.save(
        charts.daily_chart(daily, title="Packets per sensor per day"), out / "all-packets.png"))
    step("chart unique-hosts", lambda: charts.save(
        charts.daily_chart(uniq, title="Distinct sources per sensor per day",
                           ylab="distinct sources"), out / "unique-hosts.png"))
    step("chart unique-seven-day", lambda: charts.save(
        charts.daily_chart(ma, scales="fixed",
                           title="Distinct sources per sensor per day, 7-day moving average",
                           ylab="distinct sources (7-day mean)"), out / "unique-seven-day.png"))
    total = sum(s for _, s in steps)
    print(f"{'imports':28s} {IMPORTS:7.3f} s (not in total)")
    for name, s in steps:
        print(f"{name:28s} {s:7.3f} s")
    print(f"{'total':28s} {total:7.3f} s   (R: ~37 s)   charts in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
