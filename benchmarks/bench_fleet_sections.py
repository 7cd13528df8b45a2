"""Time the four fleet report sections (origin, compare, sources, scans) on a store.

    honeyscope ingest src/honeyscope/data/marx-geo.csv.gz --store /tmp/h7store
    python benchmarks/bench_fleet_sections.py /tmp/h7store --repeat 3

Prints wall and process CPU time of each run (the first run also registers the shipped range
tables and warms the caches of the file system) and each section's wall time; ``--engine``
takes a Spark master URL as well (``local[2]``).
"""

from __future__ import annotations

import argparse
import statistics
import time

from honeyscope.analyse import engine as hs_engine
from honeyscope.render.sections import ReportContext
from honeyscope.render.sections import fleet as fleet_sections
from honeyscope.store.store import Store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", help="a honeyscope store directory")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs after one warm-up run")
    ap.add_argument("--engine", default="duckdb", help="duckdb (default) or a Spark master URL")
    args = ap.parse_args()

    files = Store(args.store).packet_files()
    con = hs_engine.connect(args.engine)
    if args.engine == "duckdb":
        t = hs_engine.packets_from_files(con, files)
    else:
        from honeyscope.analyse import spark

        t = spark.packets_from_files(con, files)
    walls, cpus = [], []
    for i in range(args.repeat + 1):
        ctx = ReportContext(packets=t, con=con)
        w0, c0 = time.perf_counter(), time.process_time()
        fleet_sections.build(ctx)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        per = {k.split(":", 1)[1]: round(v, 2) for k, v in ctx.meta["timings"].items()}
        print(f"{'warm-up' if i == 0 else f'run {i}'}: wall {wall:.2f} s, cpu {cpu:.2f} s, {per}",
              flush=True)
        if i:
            walls.append(wall)
            cpus.append(cpu)
    print(f"median of {args.repeat}: wall {statistics.median(walls):.2f} s, "
          f"cpu {statistics.median(cpus):.2f} s (min wall {min(walls):.2f} s)")


if __name__ == "__main__":
    main()
