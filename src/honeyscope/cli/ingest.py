"""``honeyscope ingest``, ``export`` and ``rejects``."""

from __future__ import annotations

import argparse
import json
import sys

from honeyscope.render.escape import plain_terminal, terminal


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="parse raw logs / marx CSV into a store")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="files, directories (recursive), globs, or - for stdin; gz/bz2/xz/zstd ok")
    p.add_argument("--store", required=True, help="store directory (created if needed)")
    p.add_argument("--year", type=int, help="year of year-less syslog stamps "
                   "(default: the year putting each stamp nearest to, not after, the file's mtime)")
    p.add_argument("--tz", default="UTC", help="zone of stamps without an offset (default UTC)")
    p.add_argument("--sensor", help="sensor name for lines without a syslog host")
    p.add_argument("--workers", type=int, help="parser threads (default: 2)")
    p.add_argument("--wait", action="store_true",
                   help="wait for another ingest into the same store instead of refusing")
    p.add_argument("--include", action="append", default=[], metavar="GLOB",
                   help="in a directory, also take files matching GLOB (name or relative path) that "
                   "are skipped by default as not logs (*.md, *.json but journald exports, Parquet...)")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="in a directory, leave out files matching GLOB (wins over --include)")
    p.add_argument("--json", action="store_true", help="print the ledger as JSON")
    p.add_argument("--engine", metavar="MASTER",
                   help="spark://HOST:PORT or local[N]: parse each input file on a Spark worker "
                   "(store on a filesystem the workers share); default: here, on every core")
    p.add_argument("--follow", action="store_true",
                   help="tail the files like tail -F (across logrotate) into the store until stopped")
    p.add_argument("--commit-every", type=float, default=5.0, metavar="SECONDS",
                   help="with --follow: commit read lines at least this often (default 5)")
    p.set_defaults(func=_ingest)

    e = sub.add_parser("export", help="write the store's packets as marx CSV, CSV, Parquet or JSONL")
    e.add_argument("--store", required=True)
    e.add_argument("--format", choices=("marx", "csv", "parquet", "jsonl", "ecs", "dshield"), default="csv",
                   help="ecs: JSON lines with Filebeat's iptables field names; "
                   "dshield: DShield's submission format")
    e.add_argument("-o", "--output", required=True, help="output file, or - for stdout")
    e.add_argument("--raw", action="store_true",
                   help="csv/marx: write text cells as they are (by default a cell a spreadsheet would "
                   "run as a formula gets a leading ')")
    from honeyscope.cli.common import add_selection_args

    add_selection_args(e)  # --from/--to/--sensors/--src/--proto/--port, as on every analysis
    e.set_defaults(func=_export)

    r = sub.add_parser("rejects", help="lines that were not packets, with their reason")
    r.add_argument("--store", required=True)
    r.add_argument("--reason", help="only this reason")
    r.add_argument("--limit", type=int, default=20)
    r.add_argument("--format", choices=("text", "csv", "json"), default="text")
    r.set_defaults(func=_rejects)


def _ingest(args: argparse.Namespace) -> int:
    from honeyscope.ingest import parse_fast, sources

    # this process only ingests: glibc may keep the large blocks it frees for the next block (no
    # mmap/munmap and page zeroing for each; a library call would leave that setting to its user)
    parse_fast.keep_freed_memory()

    if args.follow:
        from honeyscope.cli.collect import follow_command

        return follow_command(args)
    wait = None if args.wait else 0
    if args.engine and args.engine != "duckdb":
        from honeyscope.ingest.distributed import ingest_on_spark

        ledger = ingest_on_spark(args.inputs, args.store, args.engine, year=args.year, tz=args.tz,
                                 sensor=args.sensor, wait=wait, include=args.include,
                                 exclude=args.exclude)
    else:
        # the API's ingest is this function (honeyscope.api loads the analysis stack: not needed here)
        from honeyscope.ingest.run import check_options, ingest

        check_options(args.year, args.workers, args.sensor, args.tz)
        inputs = sources.expand(args.inputs, skip=[args.store], include=args.include,
                                exclude=args.exclude)
        total = sum(i.path.stat().st_size for i in inputs if i.seekable) or None  # type: ignore[union-attr]
        with _progress(total, enabled=sys.stderr.isatty() and not args.json) as progress:
            ledger = ingest(
                args.inputs, args.store, year=args.year, tz=args.tz, sensor=args.sensor,
                workers=args.workers, wait=wait, progress=progress, include=args.include,
                exclude=args.exclude,
            )
    d = ledger.to_dict()
    if args.json:
        json.dump(d, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_ledger(d)
    for w in d["warnings"]:
        print(f"honeyscope: warning: {plain_terminal(w)}", file=sys.stderr)
    for e in d["errors"]:
        print(f"honeyscope: error: {plain_terminal(e)}", file=sys.stderr)
    return 1 if d["errors"] else 0


class _progress:
    """A rich progress bar on a terminal (bytes, lines/s, ETA), on stderr and on one line of the
    terminal's width (the less important columns left out when narrow); a no-op elsewhere."""

    def __init__(self, total: int | None, enabled: bool, console=None) -> None:
        self.total, self.enabled, self.console = total, enabled, console
        self._bar = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = self.console or Console(stderr=True)
        width = console.width
        columns = [TextColumn("ingest"), BarColumn(bar_width=None)]
        if width >= 100:
            columns.append(DownloadColumn())
        lines = "{task.fields[lines]:>12,} lines" if width >= 60 else "{task.fields[lines]:,}"
        columns.append(TextColumn(lines))
        if width >= 120:
            columns.append(TextColumn("{task.fields[rate]:>9,.0f} lines/s"))
        if width >= 80:
            columns += [TimeElapsedColumn(), TimeRemainingColumn()]
        self._bar = Progress(*columns, console=console, transient=True)
        self._bar.start()
        task = self._bar.add_task("ingest", total=self.total, lines=0, rate=0.0)
        import time

        t0 = time.perf_counter()

        def update(nbytes: int, nlines: int) -> None:
            dt = max(time.perf_counter() - t0, 1e-6)
            self._bar.update(task, completed=nbytes, lines=nlines, rate=nlines / dt)

        return update

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()


def print_ledger(d: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(
        f"[bold]{d['lines']:,}[/] lines read, [bold]{d['rows']:,}[/] rows added, "
        f"[bold]{d['rejected_total']:,}[/] rejected, {d['bytes'] / 1e6:,.1f} MB in {d['seconds']:.2f} s "
        f"→ {terminal(d['store'])}"
    )
    many = len(d["inputs"]) > 20  # then the years of the inputs in one line, not one per input
    if many:
        per_year: dict[str, int] = {}
        for i in d["inputs"]:
            for y in i.get("years") or {}:
                per_year[y] = per_year.get(y, 0) + 1
        if per_year:
            con.print("  years: " + ", ".join(f"{y} ({n:,} inputs)" for y, n in sorted(per_year.items())))
    for i in d["inputs"]:
        notes = []
        if i["status"] not in ("added", "grown"):
            notes.append(i["status"])
        if i.get("held"):
            notes.append(f"{i['held']} unterminated line left for the next ingest")
        years = i.get("years") or {}
        if years and not many:
            notes.append("year " + ", ".join(years) if len(years) > 1 or i.get("sensor_years")
                         else f"year {next(iter(years))}")
        for h, ys in (i.get("sensor_years") or {}).items():
            notes.append(f"{terminal(h)}: {', '.join(ys)}")
        if notes:
            con.print(f"  {terminal(i['source'])}: " + "; ".join(terminal(n) for n in notes))
    for key, title, what, unit in (("rejected", "rejected, by reason", "reason", "lines"),
                                   ("hosts", "rows added, per sensor", "sensor", "rows")):
        if d[key]:
            t = Table(title=title, title_justify="left")
            t.add_column(what)
            t.add_column(unit, justify="right")
            for k, v in d[key].items():
                t.add_row(terminal(k), f"{v:,}")
            con.print(t)


def _export(args: argparse.Namespace) -> int:
    from honeyscope import api
    from honeyscope.cli.common import selection_kwargs

    n = api.export(args.store, args.format, args.output, raw=args.raw, **selection_kwargs(args))
    where = "stdout" if args.output == "-" else plain_terminal(args.output)
    print(f"{n:,} rows written → {where}", file=sys.stderr)
    return 0


def _rejects(args: argparse.Namespace) -> int:
    import pyarrow.compute as pc

    from honeyscope.cli.common import emit
    from honeyscope.store.store import Store

    t = Store(args.store).rejects()
    if args.reason:
        t = t.filter(pc.equal(t.column("reason"), args.reason))
    df = t.slice(0, args.limit).to_pandas()
    emit(df, args.format)
    return 0
