"""``honeyscope report`` and ``honeyscope demo``."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from honeyscope.cli.common import add_source_args, engine, output_file, selection_kwargs
from honeyscope.render.escape import terminal


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="one self-contained HTML report of a store or of data files")
    add_source_args(p)
    p.add_argument("-o", "--output", default="report.html", type=output_file,
                   help="the HTML file to write")
    p.add_argument("--title", default="honeyscope report")
    p.set_defaults(func=_report)

    d = sub.add_parser("demo", help="the bundled marx data set (9 sensors, 2013) → store → report")
    d.add_argument("-o", "--output", default="honeyscope-demo",
                   help="directory for the store and report.html (default ./honeyscope-demo)")
    d.add_argument("--engine", default="duckdb", type=engine,
                   help="duckdb (default), spark://HOST:PORT or local[N]")
    d.set_defaults(func=_demo)


@contextmanager
def _steps(enabled: bool):
    """A spinner naming the current step on a terminal; silent elsewhere."""
    if not enabled:
        yield lambda msg: None
        return
    from rich.console import Console

    console = Console(stderr=True)
    t0 = time.perf_counter()
    with console.status("starting") as status:
        def step(msg: str) -> None:
            status.update(f"{terminal(msg)}  [dim]{time.perf_counter() - t0:5.1f} s[/]")

        yield step


def run_report(sources: list[str], output: str, *, engine: str = "duckdb",
               title: str = "honeyscope report", year=None, tz=None, sensor=None,
               progress=None, **selection) -> dict:
    """Sources → (store) → report; shared by ``report`` and ``demo``. ``selection``: the keywords
    of :func:`honeyscope.analyse.select.selection` (``start``, ``end``, ``sensors``, ...)."""
    from honeyscope import api
    from honeyscope.analyse import engine as eng
    from honeyscope.analyse import select
    from honeyscope.render.report import ReportOptions, build_report

    sel = select.selection(**selection)  # a bad option fails before the data is loaded
    step = progress or (lambda msg: None)
    step("loading the data")
    store = api.resolve_store(sources, year=year, tz=tz, sensor=sensor)
    from honeyscope.store.frames import require_packets

    require_packets(store)  # no packet at all: exit 1 with the lines read and rejected
    con = eng.connect(engine)
    packets = eng.packets_from_files(con, store.packet_files())
    opts = ReportOptions(title=title, selection=sel)
    files = [str(f) for f in store.packet_files()] if engine in ("duckdb", "") else None
    meta = dict(store.meta) | {"rejects_by_host_day": store.rejects_by_host_day()}
    return build_report(packets, output, opts=opts, ledger=store.ledger(), meta=meta,
                        progress=step, files=files)


def _report(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    with _steps(sys.stderr.isatty()) as step:
        res = run_report(args.source, args.output, engine=args.engine, title=args.title, year=args.year,
                         tz=args.tz, sensor=args.sensor, progress=step, **selection_kwargs(args))
    print(f"report: {terminal(res['path'])} ({res['bytes'] / 1e6:.1f} MB, "
          f"{len(res['sections'])} sections, {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from importlib import resources

    from honeyscope import api
    from honeyscope.cli.ingest import print_ledger

    out = Path(args.output)
    data = Path(str(resources.files("honeyscope") / "data" / "marx-geo.csv.gz"))
    store = out / "store"
    t0 = time.perf_counter()
    with _steps(sys.stderr.isatty()) as step:
        step("ingesting the bundled marx data set (451,581 packets)")
        ledger = api.ingest([str(data)], store, wait=30)
    print_ledger(ledger.to_dict())
    with _steps(sys.stderr.isatty()) as step:
        res = run_report([str(store)], str(out / "report.html"), engine=args.engine,
                         title="honeyscope demo: the marx honeypot data set (9 AWS sensors, 2013)",
                         progress=step)
    print(f"report: {terminal(Path(res['path']).resolve())} "
          f"({res['bytes'] / 1e6:.1f} MB, {len(res['sections'])} sections, "
          f"{time.perf_counter() - t0:.1f} s in all)")
    return 0
