"""``honeyscope generate``: a seeded synthetic fleet, as raw logs or straight into a store."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate", help="write a seeded synthetic sensor fleet (raw logs or a store) for tests",
        description="A fleet of sensors with diurnal and weekly cycles, fleet-wide scanners, "
        "floods and background radiation shaped like the bundled marx data.",
    )
    p.add_argument("--sensors", type=int, default=9, help="number of sensors (default 9)")
    p.add_argument("--rows", type=float, default=1e6, help="packets in all (default 1e6)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--days", type=int, default=28, help="days of traffic (default 28)")
    p.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1),
                   help="first day, YYYY-MM-DD (default 2024-01-01)")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--logs", metavar="DIR", help="write raw syslog files, one per sensor")
    out.add_argument("--parquet", "--store", dest="store", metavar="DIR",
                     help="write a honeyscope store (Parquet + manifest) directly")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="processes, each generating a range of days (default: one per core); "
                   "the output is the same whatever the number")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(func=_generate)

    s = sub.add_parser(
        "ingest-spark", help="ingest raw logs with the parsing spread over a Spark cluster",
        description="Like 'honeyscope ingest', but each input file is parsed by a Spark task on "
        "the cluster's workers, which write into the store's staging directory (a filesystem "
        "shared by driver and workers, same paths); the driver commits each input.",
    )
    s.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="files, directories (recursive), globs; gz/bz2/xz/zstd ok; not stdin")
    s.add_argument("--store", required=True, help="store directory (created if needed)")
    s.add_argument("--engine", required=True, metavar="MASTER",
                   help="Spark master: spark://HOST:PORT or local[N]")
    s.add_argument("--year", type=int, help="year of year-less syslog stamps")
    s.add_argument("--tz", default="UTC", help="zone of stamps without an offset (default UTC)")
    s.add_argument("--sensor", help="sensor name for lines without a syslog host")
    s.add_argument("--wait", action="store_true",
                   help="wait for another ingest into the same store instead of refusing")
    s.add_argument("--json", action="store_true", help="print the ledger as JSON")
    s.set_defaults(func=_ingest_spark)


def _generate(args: argparse.Namespace) -> int:
    from honeyscope.synth import fleet

    spec = fleet.FleetSpec(sensors=args.sensors, rows=int(args.rows), seed=args.seed,
                           days=args.days, start=args.start)
    t0 = time.perf_counter()
    plan = fleet.plan(spec)
    if args.logs:
        files = fleet.write_logs(spec, args.logs, fleet=plan, workers=args.workers)
        result = {"logs": [str(f) for f in files]}
    else:
        record = fleet.write_store(spec, args.store, fleet=plan, workers=args.workers)
        result = {"store": args.store, "parts": len(record["parts"])}
    result.update(rows=spec.rows, sensors=spec.sensors, seed=spec.seed,
                  seconds=round(time.perf_counter() - t0, 2))
    if args.json:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
    else:
        where = args.logs or args.store
        print(f"{spec.rows:,} packets from {spec.sensors} sensors over {spec.days} days "
              f"(seed {spec.seed}) → {where} in {result['seconds']} s")
    return 0


def _ingest_spark(args: argparse.Namespace) -> int:
    from honeyscope.cli.ingest import print_ledger
    from honeyscope.ingest.distributed import ingest_on_spark

    ledger = ingest_on_spark(args.inputs, args.store, args.engine, year=args.year, tz=args.tz,
                             sensor=args.sensor, wait=None if args.wait else 0)
    if args.json:
        json.dump(ledger.to_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_ledger(ledger.to_dict())
    return 0
