"""``honeyscope generate``: a seeded synthetic fleet, as raw logs or straight into a store.

(Ingest on a Spark cluster is ``honeyscope ingest --engine spark://...``.)"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date

from honeyscope.cli.common import non_negative, non_negative_float, positive, store_dir


def _rows(text: str) -> float:
    """Packets to generate: a number ≥ 1 (``1e6`` allowed)."""
    x = non_negative_float(text)
    if x < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return x


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate", help="write a seeded synthetic sensor fleet (raw logs or a store) for tests",
        description="A fleet of sensors with diurnal and weekly cycles, fleet-wide scanners, "
        "floods and background radiation shaped like the bundled marx data.",
    )
    p.add_argument("--sensors", type=positive, default=9, help="number of sensors (default 9)")
    p.add_argument("--rows", type=_rows, default=1e6, help="packets in all (default 1e6)")
    p.add_argument("--seed", type=non_negative, default=0, help="random seed (default 0)")
    p.add_argument("--days", type=positive, default=28, help="days of traffic (default 28)")
    p.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1),
                   help="first day, YYYY-MM-DD (default 2024-01-01)")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--logs", metavar="DIR", help="write raw syslog files, one per sensor")
    out.add_argument("--parquet", "--store", dest="store", metavar="DIR", type=store_dir,
                     help="write a honeyscope store (Parquet + manifest) directly")
    p.add_argument("--workers", type=positive, default=os.cpu_count() or 1,
                   help="processes, each generating a range of days (default: one per core); "
                   "the output is the same whatever the number")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(func=_generate)



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

