"""``honeyscope collect``: receive syslog from a fleet and write it to a store as it arrives."""

from __future__ import annotations

import argparse
import json
import sys
import time

from honeyscope.cli.common import positive, year
from honeyscope.render.escape import plain_terminal


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("collect", help="receive syslog (TCP/UDP) from a fleet into a store, live")
    p.add_argument("--store", required=True, help="store directory (created if needed)")
    p.add_argument("--listen", action="append", required=True, metavar="URL",
                   help="tcp://HOST:PORT or udp://HOST:PORT (repeat for several; HOST empty: 127.0.0.1)")
    p.add_argument("--allow", action="append", metavar="CIDR",
                   help="accept only senders in this address block (repeat for several; default: any)")
    p.add_argument("--commit-every", type=float, default=5.0, metavar="SECONDS",
                   help="commit received lines to the store at least this often (default 5)")
    p.add_argument("--commit-lines", type=positive, default=200_000, metavar="LINES",
                   help="... or as soon as this many lines wait (default 200000)")
    p.add_argument("--spool", metavar="DIR", help="spool directory (default: STORE/spool)")
    p.add_argument("--year", type=year, help="year of year-less syslog stamps (default: the one nearest now)")
    p.add_argument("--tz", default="UTC", help="zone of stamps without an offset (default UTC)")
    p.add_argument("--workers", type=positive, help="parser processes (default: 2)")
    p.add_argument("--threads", action="store_true",
                   help="parse on threads of the collecting process instead of worker processes (less "
                        "memory; as fast only with a parser that releases the GIL)")
    p.add_argument("--json", action="store_true", help="print the totals as JSON when stopped")
    p.set_defaults(func=_collect)


def _collect(args: argparse.Namespace) -> int:
    from honeyscope.ingest.collect import Collector

    live = _Status() if sys.stderr.isatty() else None

    def ready(urls: list[str]) -> None:
        print(f"honeyscope collect: listening on {' '.join(urls)}", file=sys.stderr, flush=True)
        if live:
            live.start()

    col = Collector(args.store, args.listen, allow=args.allow, commit_every=args.commit_every,
                    commit_lines=args.commit_lines, spool=args.spool, tz=args.tz, year=args.year,
                    workers=args.workers, threads=args.threads, on_ready=ready,
                    status=live.update if live else None)
    d = _run(col, live, args.json)
    drops = d.udp_kernel_drops + d.udp_queue_drops
    print(plain_terminal(
        f"honeyscope collect: {d.received:,} lines received, {d.rows:,} rows, {d.rejected_total:,} rejected, "
        f"{d.commits:,} commits, {d.connections_total:,} connections, {d.refused:,} refused"
        + (f", UDP drops {drops:,} (kernel {d.udp_kernel_drops:,})" if drops else "")
        + f" → {d.store}"), file=sys.stderr)
    return 0


class _Status:
    """One status line on stderr, redrawn twice a second (terminals only)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self._live = Live("", console=Console(stderr=True), transient=True, auto_refresh=False)
        self._t = time.monotonic()
        self._n = 0
        self._rate = 0.0

    def start(self) -> None:
        self._live.start()

    def stop(self) -> None:
        self._live.stop()

    def update(self, stats) -> None:
        from rich.text import Text

        from honeyscope.ingest.collect import status_line

        if not hasattr(stats, "received"):  # following files
            self._live.update(Text(plain_terminal(
                f"{stats.files} files, {self._rate:,.0f} lines/s, {stats.rows:,} rows, "
                f"{stats.rejected_total:,} rejected, last commit {stats.last_commit or '-'}")), refresh=True)
            return
        now = time.monotonic()
        n = getattr(stats, "received", None)
        n = stats.lines if n is None else n
        if now - self._t >= 1:
            self._rate = (n - self._n) / (now - self._t)
            self._t, self._n = now, n
        self._live.update(Text(plain_terminal(status_line(stats, self._rate))), refresh=True)


def _run(runner, live: _Status | None, as_json: bool):
    """Run a collector or follower to its end, the status line gone after; its totals as JSON on
    stdout when asked. Returns its stats."""
    try:
        stats = runner.run()
    finally:
        if live:
            live.stop()
    if as_json:
        json.dump(stats.to_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    return stats


def follow_command(args: argparse.Namespace) -> int:
    """``honeyscope ingest --follow FILE...`` (registered by cli/ingest.py)."""
    from honeyscope.ingest.follow import Follower

    if args.engine and args.engine != "duckdb":
        raise ValueError("--follow reads the files here: it cannot be combined with --engine")
    if "-" in args.inputs:
        raise ValueError("--follow takes files, not - (standard input)")
    live = _Status() if sys.stderr.isatty() else None
    fol = Follower(args.store, args.inputs, commit_every=args.commit_every, sensor=args.sensor, tz=args.tz,
                   year=args.year, status=live.update if live else None)
    if live:
        live.start()
    d = _run(fol, live, args.json)
    print(plain_terminal(
        f"honeyscope ingest --follow: {d.lines:,} lines, {d.rows:,} rows, {d.rejected_total:,} rejected, "
        f"{d.commits:,} commits, {d.rotations:,} rotations, {d.truncations:,} truncations"
        + (f", {d.lost:,} bytes lost to a copytruncate without a copy" if d.lost else "") + f" → {d.store}"),
        file=sys.stderr)
    return 0
