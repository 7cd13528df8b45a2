"""One self-contained HTML report: inline CSS and charts, no script, nothing fetched.

A Content-Security-Policy forbids every request and every script, so even a mistake in escaping
could not make the page run or load anything; every value is escaped all the same.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ibis

from honeyscope import __version__
from honeyscope.analyse import base, blas, engine, select
from honeyscope.analyse.registry import SECTIONS
from honeyscope.render.escape import html as esc
from honeyscope.render.html import Section
from honeyscope.render.sections import ReportContext

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

CSS = """
:root { --ink:#1d2330; --muted:#5b6475; --line:#d9dee7; --accent:#2f5d8a; --bg:#fbfcfe; }
* { box-sizing: border-box; }
body { font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); background: var(--bg); margin: 0; }
header { background: #17324f; color: #fff; padding: 1.4rem 2rem; }
header h1 { margin: 0 0 .3rem; font-size: 1.6rem; }
header p { margin: 0; color: #c9d6e6; }
main { max-width: 1100px; margin: 0 auto; padding: 1rem 2rem 3rem; }
nav.toc { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .6rem 1.2rem;
          margin: 1rem 0 2rem; columns: 2; }
nav.toc ol { margin: .3rem 0; }
nav.toc a { color: var(--accent); text-decoration: none; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .4rem 1.4rem 1rem;
          margin: 0 0 1.5rem; }
h2 { color: #17324f; border-bottom: 2px solid var(--line); padding-bottom: .3rem; }
h3 { color: #17324f; margin-bottom: .3rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .9rem; }
caption { text-align: left; font-weight: 600; padding: .2rem 0; color: var(--muted); }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .7rem; text-align: left; vertical-align: top; }
thead th { background: #eef2f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { background: none; color: var(--muted); font-weight: 500; }
figure { margin: .8rem 0 1.2rem; }
img.chart { max-width: 100%; height: auto; border: 1px solid var(--line); background: #fff; }
figcaption { color: var(--muted); font-size: .85rem; }
.findings li { margin: .25rem 0; }
div.wide { max-width: 100%; overflow-x: auto; }
table#events-table, table#sources-top, table#scans-top { font-size: .8rem; }
table#events-table td, table#sources-top td { white-space: nowrap; padding: .2rem .45rem; }
section { overflow-wrap: anywhere; }
td { overflow-wrap: normal; }
span.compact { white-space: nowrap; border-bottom: 1px dotted var(--muted); cursor: help; }
sup.ref a, ol.refs a { color: var(--accent); text-decoration: none; }
ol.refs { color: var(--muted); font-size: .85rem; }
tr:target { background: #fff4c2; }
p.more, .note { color: var(--muted); font-size: .85rem; }
footer { color: var(--muted); font-size: .8rem; text-align: center; padding: 1rem; }
@media print {
  body { background: #fff; font-size: 11pt; }
  header { background: none; color: #000; border-bottom: 2px solid #000; }
  header p { color: #333; }
  nav.toc { display: none; }
  section { border: none; padding: 0; page-break-inside: auto; }
  figure, table { page-break-inside: avoid; }
  h2 { page-break-after: avoid; }
}
"""


@dataclass
class ReportOptions:
    title: str = "honeyscope report"
    #: the packets the report is about: the same selection as every command's (--from, --to,
    #: --sensors, --src, --proto, --port; :mod:`honeyscope.analyse.select`)
    selection: select.Selection = field(default_factory=select.Selection)
    extra: dict[str, Any] = field(default_factory=dict)


def restrict(t: ibis.Table, opts: ReportOptions, *, check: bool = True,
             timeless: int | None = None) -> ibis.Table:
    """The packets of the report's selection with a wall-clock time (dmesg lines carry only an
    uptime: the data section counts them apart). ``check``: an unknown sensor or an empty
    selection is an error (:class:`~honeyscope.analyse.select.SelectionError`). ``timeless``:
    the packets of ``t`` without a time, when counted: none, and no row is filtered out.
    Either way the time is then typed never null (:func:`base.all_timed`): the sections'
    own :func:`base.timed` add no filter."""
    if check:
        select.apply(t, opts.selection)
    t = select.filter_table(t, opts.selection)
    return base.all_timed(t if timeless == 0 else t.filter(t.time.notnull()))


def build_sections(ctx: ReportContext, modules: Sequence[str] = SECTIONS) -> list[Section]:
    """The sections of ``modules`` (honeyscope.render.sections.<name>), in order; a module that
    does not import is an error, never a silently missing section."""
    with blas.one_thread():  # the sections' fits are small: one BLAS thread (analyse/blas.py)
        return _build_sections(ctx, modules)


def _build_sections(ctx: ReportContext, modules: Sequence[str]) -> list[Section]:
    sections: list[Section] = []
    for name in modules:
        module = importlib.import_module(f"honeyscope.render.sections.{name}")
        t0 = time.perf_counter()
        if ctx.progress:
            ctx.progress(f"section: {name}")
        built = module.build(ctx)
        refs = ctx.meta.setdefault("finding_refs", {})
        for s in built:  # once each, even when a builder also added them to ctx.findings
            ctx.findings.extend(f for f in s.findings if f not in ctx.findings)
            for f in s.findings:  # where each figure comes from: a table, else the section
                refs.setdefault(f, s.refs.get(f, (s.id, s.title)))
        sections.extend(built)
        ctx.meta.setdefault("timings", {})[name] = round(time.perf_counter() - t0, 3)
    return sections


def render_html(sections: Sequence[Section], opts: ReportOptions, subtitle: str = "") -> str:
    toc = "".join(f'<li><a href="#{esc(s.id)}">{esc(s.title)}</a></li>' for s in sections)
    body = "".join(
        f'<section id="{esc(s.id)}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in sections
    )
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(opts.title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(opts.title)}</h1><p>{esc(subtitle)}</p></header>"
        f'<main><nav class="toc" aria-label="Contents"><strong>Contents</strong><ol>{toc}</ol></nav>'
        f"{body}</main>"
        f"<footer>Made by honeyscope {esc(__version__)} on {esc(made)}. "
        "Self-contained: no script, no request leaves this page.</footer>"
        "</body></html>\n"
    )


#: Section modules built by the calling process when the report is built on two; the second
#: builds the others (events and health together: the trends link to the events). On the marx
#: data set the halves take about the same time (data + explore + fleet against events + health
#: and the second process's start), where data + explore alone left the second process three
#: times the work of the first.
FIRST_PROCESS = ("data", "explore", "fleet")

#: Packets (rows of the Parquet files) from which the report is built on two processes. A second
#: process is spawned and imports DuckDB, Ibis, scipy and statsmodels again (a few seconds of
#: CPU); on a small store that costs more than the half of the sections it takes over
#: (measured on 1,044 packets: 27-31 s on one process, 41-43 s on two, on a loaded 2-core machine).
TWO_PROCESSES_FROM = 100_000

#: The second process is spawned only when at least this much of a core is idle now (the CPUs
#: this process may use, times their idle share over :data:`IDLE_SAMPLE` seconds). On a machine
#: whose cores are busy it only competes with the first for them, and pays its own imports and
#: copy of the packets: measured on the marx demo store with the two cores taken by other jobs
#: (load 3.2-6.5), the report took 19.6-19.8 s and 11.2-11.9 s of CPU on one process against
#: 25.5 s and 14.2 s on two; on an idle machine, 6.5-6.7 s on two against 8.6-8.7 s on one.
#: (Not the load average: it counts the last minute, so a report run right after another one
#: would count the previous report's own two processes as a busy machine.)
MIN_IDLE_CORES = 0.5
IDLE_SAMPLE = 0.1


def idle_cores() -> float:
    """Cores idle now: the CPUs this process may use times the machine's idle share over
    :data:`IDLE_SAMPLE` seconds (``/proc/stat``; elsewhere, the CPUs less the load average)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1

    def ticks() -> tuple[int, int]:  # (idle + iowait, all) jiffies of all CPUs
        with open("/proc/stat", encoding="ascii") as fh:
            v = [int(x) for x in fh.readline().split()[1:]]
        return v[3] + v[4], sum(v[:8])

    try:
        idle0, all0 = ticks()
        time.sleep(IDLE_SAMPLE)
        idle1, all1 = ticks()
    except (OSError, ValueError, IndexError):  # pragma: no cover - no /proc/stat
        try:
            return cpus - os.getloadavg()[0]
        except OSError:
            return float(cpus)
    return cpus * (idle1 - idle0) / max(all1 - all0, 1)


#: Packets (of the report's selection) up to which they are first copied into DuckDB's memory,
#: once: every section's queries then read them there instead of decoding the Parquet files
#: again (measured on the marx data set, 451,581 packets: the fleet sections and the summary took
#: 7.5 s of CPU instead of 10.1 s, for 100 MB more memory: about 220 bytes a packet, in each of
#: the two report processes, so a larger selection is read where it lies).
IN_MEMORY_UP_TO = 1_000_000


def _in_memory(t: ibis.Table, up_to: int = IN_MEMORY_UP_TO) -> ibis.Table:
    """``t`` materialised in DuckDB's memory when it holds at most ``up_to`` rows (a temporary
    table: the same rows in the same order; ``.release()`` frees it), else ``t`` itself; on
    Spark always ``t`` (it caches what it needs)."""
    if engine.is_spark(engine.backend(t)) or int(t.count().execute()) > up_to:
        return t
    return engine.cache_table(t)


def _rows(files: Sequence[str]) -> int:
    """The rows of the Parquet ``files``, from their footers (nothing else is read)."""
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(f).num_rows for f in files)


def _cache_footers(con: ibis.BaseBackend) -> None:
    """DuckDB: keep the Parquet files' footers (schema, row groups, statistics) in memory once
    read: the report's sections scan the same files a hundred times or more, and each scan
    otherwise reads and decodes every file's footer again (measured on 10^7 packets in 180
    files: 11 one-column group-bys took 1.58 s of CPU without the cache, 1.24 s with it). The
    store's files are written once under new names, never rewritten in place."""
    if getattr(con, "name", "") == "duckdb":
        con.raw_sql("SET parquet_metadata_cache = true")


def _context(packets: ibis.Table, opts: ReportOptions, ledger: dict[str, Any] | None,
             meta: dict[str, Any] | None, progress: Callable[[str], None] | None,
             check: bool = True) -> ReportContext:
    _cache_footers(engine.backend(packets))
    timeless = int(packets.filter(packets.time.isnull()).count().execute())
    t = _in_memory(restrict(packets, opts, check=check, timeless=timeless))
    sel = opts.selection
    return ReportContext(
        packets=t, con=engine.backend(t), ledger=ledger, meta=dict(meta or {}),
        options={"start": sel.start, "end": sel.end, "sensors": sel.sensors, "selection": sel,
                 **opts.extra, "timeless": timeless},
        progress=progress,
    )


def _build_elsewhere(files: list[str], opts: ReportOptions, ledger: dict[str, Any] | None,
                     meta: dict[str, Any] | None, modules: list[str]):
    """On a worker process: the sections of each of ``modules`` (a dict) and their timings."""
    from honeyscope.analyse import engine

    packets = engine.packets_from_files(engine.connect(), files)
    ctx = _context(packets, opts, ledger, meta, None, check=False)  # checked by the caller
    try:
        sections = {m: build_sections(ctx, [m]) for m in modules}
    finally:
        _release(ctx)
    return sections, ctx.meta.get("timings", {})


def build_report(
    packets: ibis.Table,
    out: str | Path,
    *,
    opts: ReportOptions | None = None,
    ledger: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    modules: Sequence[str] = SECTIONS,
    files: Sequence[str] | None = None,
    two_processes_from: int | None = None,
) -> dict[str, Any]:
    """Write the report for ``packets`` to ``out``; returns what was built (sections, timings).

    ``files``: the Parquet files behind ``packets`` (DuckDB). When given, the sections after
    :data:`FIRST_PROCESS` are built on a second process from those files, while this one builds
    the first ones: the report takes about the time of the slower half. Only from
    ``two_processes_from`` rows in ``files``: a smaller store is built on this process alone,
    faster than spawning a second one. By default (None) that is :data:`TWO_PROCESSES_FROM` rows,
    and only when :data:`MIN_IDLE_CORES` of a core is idle (:func:`idle_cores`); the HTML is the
    same either way.
    """
    opts = opts or ReportOptions()
    rest = [m for m in modules if m not in FIRST_PROCESS and m != "findings"]
    if _processes(files, bool(rest), two_processes_from) == 1:
        ctx = _context(packets, opts, ledger, meta, progress)
        try:
            return _build(ctx, out, opts, modules, None)
        finally:
            _release(ctx)
    from honeyscope.parallel import process_pool

    select.apply(packets, opts.selection)  # an unknown sensor, an empty selection: before any work
    with process_pool(1) as pool:
        # the second process starts on its sections (imports, its copy of the packets) while this
        # one makes its own copy: the report's first second is spent on both cores
        job = pool.submit(_build_elsewhere, list(files or ()), opts, ledger, meta, rest)
        ctx = _context(packets, opts, ledger, meta, progress, check=False)
        try:
            return _build(ctx, out, opts, modules, job)
        finally:
            _release(ctx)


def _release(ctx: ReportContext) -> None:
    """Free the in-memory copy of the packets (:func:`_in_memory`), if one was made."""
    release = getattr(ctx.packets, "release", None)  # a cached table's (ibis' CachedTable)
    if release is not None:
        release()


def _processes(files: Sequence[str] | None, rest: bool, two_processes_from: int | None) -> int:
    """How many processes build the report (see :func:`build_report`); ``rest``: whether any
    section is left for a second process."""
    if not files or not rest:
        return 1
    if two_processes_from is None:
        if idle_cores() < MIN_IDLE_CORES:
            return 1
        two_processes_from = TWO_PROCESSES_FROM
    return 2 if _rows(files) >= two_processes_from else 1


def _build(ctx: ReportContext, out: str | Path, opts: ReportOptions, modules: Sequence[str],
           job: Future[Any] | None) -> dict[str, Any]:
    """The sections (``job``: those of a second process, :func:`_build_elsewhere`, running) and
    the HTML file."""
    processes = 1 if job is None else 2
    if job is not None:
        per = {m: build_sections(ctx, [m]) for m in modules if m in FIRST_PROCESS}
        if ctx.progress:
            ctx.progress("sections on the second process")
        more, timings = job.result()
        per.update(more)
        # in the order of ``modules``, and the findings and their references as one process
        # gathers them (build_sections): section by section, each finding once
        sections = [s for m in modules if m != "findings" for s in per[m]]
        ctx.findings.clear()
        refs = ctx.meta["finding_refs"] = {}
        for s in sections:
            ctx.findings.extend(f for f in s.findings if f not in ctx.findings)
            for f in s.findings:
                refs.setdefault(f, s.refs.get(f, (s.id, s.title)))
        ctx.meta.setdefault("timings", {}).update(timings)
        if "findings" in modules:
            sections += build_sections(ctx, ["findings"])
    else:
        sections = build_sections(ctx, modules)
    # the key findings read first, right after the description of the data
    found = [s for s in sections if s.id == "findings"]
    if found:
        sections = [s for s in sections if s.id != "findings"]
        sections.insert(min(1, len(sections)), found[0])
    span = ctx.meta.get("span", "")
    html_text = render_html(sections, opts, subtitle=span)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html_text, encoding="utf-8")
    tmp.replace(out)
    return {"path": str(out), "sections": [s.id for s in sections], "timings": ctx.meta.get("timings", {}),
            "findings": ctx.findings, "bytes": len(html_text.encode()), "processes": processes}
