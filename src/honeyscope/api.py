"""The Python API. The CLI is a thin layer over these functions.

Every analysis of :mod:`honeyscope.analyse.registry` is a function here of the same name as its
command (``port-sources`` → :func:`port_sources`), with the command's options as keywords
(``by="host"``, ``by_sensor=True``) and the same selection everywhere: ``start``/``end`` (``--from``/
``--to``: dates or RFC 3339 times), ``sensors``, ``src`` (CIDR blocks), ``proto``, ``port``.

A SOURCE is a store directory, data files (raw logs, marx CSV: ingested on the fly), an Ibis
table, or a pandas / polars DataFrame or an Arrow table with the store's columns (any missing
column is null). Results are pandas DataFrames; ``to="polars"`` or ``to="arrow"`` for those.

>>> import honeyscope
>>> ledger = honeyscope.ingest(["/var/log/kern.log*"], "store")      # doctest: +SKIP
>>> honeyscope.daily("store", sensors=["groucho-eu"], start="2013-03-04").head(2)  # doctest: +SKIP
         host        day  value
0  groucho-eu 2013-03-04    104
1  groucho-eu 2013-03-05     99
>>> honeyscope.chart(honeyscope.daily("store"))   # a plotnine chart, inline in a notebook  # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import ibis
import pandas as pd
import pyarrow as pa

from honeyscope.analyse import engine as _engine
from honeyscope.analyse import select as _select
from honeyscope.store.store import Store, is_store

#: the pipeline's functions; the analyses (one per entry of honeyscope.analyse.registry, a test
#: keeps them equal) are added below
__all__ = ["chart", "export", "ingest", "open_packets", "open_store", "packets_of", "resolve_store",
           "verify_store"]

#: A SOURCE: a store directory or data files, an Ibis table, a pandas / polars DataFrame, Arrow.
Source = Any
#: What an analysis returns: ``pandas`` (default), ``polars`` or ``arrow``.
To = Literal["pandas", "polars", "arrow"]
When = str | date | datetime | None
#: ``sensors``, ``src``, ``proto``: comma-separated text as on the command line, or a list
Names = str | Sequence[str] | None
#: ``port``: a number, comma-separated text, or a list
Ports = int | str | Sequence[int | str] | None


def ingest(inputs: Sequence[str] | str, store: str | Path, **options: Any):
    """Ingest inputs (files, directories, globs, ``-``) into the store at ``store``.

    Options: ``year``, ``tz``, ``sensor``, ``workers``, ``wait``, ``progress``. Returns the
    :class:`~honeyscope.ingest.run.Ledger` of this run.
    """
    from honeyscope.ingest.run import ingest as _ingest

    if isinstance(inputs, str | Path):
        inputs = [str(inputs)]
    return _ingest([str(i) for i in inputs], store, **options)


class StoreHandle(Store):
    """A store opened for reading: the packet table as Arrow, polars, pandas or Ibis.

    >>> honeyscope.open_store("store")        # doctest: +SKIP
    Store('store': 451,581 rows, 9 sensors, 2013-03-03T21:53:59Z to 2013-09-08T05:54:18Z)
    """

    def arrow(self, columns: list[str] | None = None):
        return self.table(columns)

    def polars(self, columns: list[str] | None = None):
        import polars as pl

        return pl.from_arrow(self.table(columns))

    def pandas(self, columns: list[str] | None = None):
        """The packets as pandas; ports, ICMP codes and other integers as nullable integers."""
        from honeyscope.store.frames import to_pandas

        return to_pandas(self.table(columns))

    def packets(self, engine: str = _engine.DEFAULT_ENGINE) -> ibis.Table:
        return _engine.packets_from_files(_engine.connect(engine), self.packet_files())

    @property
    def rows(self) -> int:
        return sum(int(i.get("rows", 0)) for i in self.inputs)

    @property
    def sensors(self) -> list[str]:
        return sorted({h for i in self.inputs for h in (i.get("hosts") or {})})

    def span(self) -> tuple[datetime | None, datetime | None]:
        """First and last packet time, from the Parquet footers (no data read)."""
        import pyarrow.parquet as pq

        first = last = None
        for f in self.packet_files():
            md = pq.ParquetFile(f).metadata
            col = md.schema.names.index("time")
            for g in range(md.num_row_groups):
                st = md.row_group(g).column(col).statistics
                if st is None or not st.has_min_max:
                    continue
                first = st.min if first is None or st.min < first else first
                last = st.max if last is None or st.max > last else last
        return first, last

    def __repr__(self) -> str:
        first, last = self.span()
        span = "no times" if first is None else (
            f"{pd.Timestamp(first):%Y-%m-%dT%H:%M:%S}Z to {pd.Timestamp(last):%Y-%m-%dT%H:%M:%S}Z")
        n = len(self.sensors)
        return (f"Store({str(self.path)!r}: {self.rows:,} rows, {n} sensor{'s' * (n != 1)}, {span})")


def export(store: str | Path, fmt: str = "csv", out: str | Path = "-", *, start: When = None,
           end: When = None, sensors: Names = None, src: Names = None, proto: Names = None,
           port: Ports = None, raw: bool = False) -> int:
    """Write the packets of the store at ``store`` to ``out`` (``-``: stdout) as ``fmt`` (marx,
    csv, parquet, jsonl, ecs, dshield), restricted to the selection as every analysis is; returns
    the rows written; ``raw``: CSV cells as they are, without defusing formulas. An unknown sensor
    or an empty selection is a :class:`~honeyscope.analyse.select.SelectionError`.

    >>> honeyscope.export("store", "csv", "groucho-eu.csv", sensors="groucho-eu")   # doctest: +SKIP
    40386
    """
    from functools import partial

    from honeyscope.render.export import export as _export

    sel = _select.selection(start=start, end=end, sensors=sensors, src=src, proto=proto, port=port)
    keep = None
    if sel:
        _select.apply(open_packets(store), sel)
        keep = partial(_select.filter_table, sel=sel)
    return _export(Store(store), fmt, str(out), raw=raw, keep=keep)


def open_store(path: str | Path) -> StoreHandle:
    """Open an existing store (see README, "The store")."""
    return StoreHandle(path)


def verify_store(path: str | Path, *, repair: bool = False):
    """Check every part of the store at ``path`` against its manifest (present, readable, schema,
    row counts); with ``repair``, move each damaged input aside (``STORE/damaged/``) so its logs can
    be ingested again. Returns a :class:`~honeyscope.store.verify.VerifyResult`."""
    from honeyscope.store import verify as _verify

    return _verify.repair(path) if repair else _verify.verify(path)


_TEMP_STORES: dict[tuple, Path] = {}


def resolve_store(
    sources: Sequence[str | Path] | str | Path,
    *,
    year: int | None = None,
    tz: str | None = None,
    sensor: str | None = None,
    progress: Any = None,
) -> Store:
    """The store named by ``sources``: a store directory as is, or data files (raw logs, marx CSV)
    ingested on the fly into a temporary store that lives as long as this process.

    ``year``, ``tz`` and ``sensor`` say how to read data files; given with a store they are an
    error (:class:`ValueError`): the store was read with its own."""
    if isinstance(sources, str | Path):
        sources = [sources]
    srcs = [str(s) for s in sources]
    if len(srcs) == 1 and is_store(srcs[0]):
        given = [o for o, v in (("--year", year), ("--tz", tz), ("--sensor", sensor)) if v is not None]
        if given:
            raise ValueError(
                f"{' and '.join(given)} read{'s' * (len(given) == 1)} data files; {srcs[0]} is a store, "
                "read when it was ingested (to select sensors, --sensors a,b)")
        return Store(srcs[0])
    for s in srcs:
        if Path(s).is_dir() and is_store(s):
            raise ValueError(f"{s} is a store: give it alone, not mixed with other sources")
    tz = tz or "UTC"
    key = (tuple(srcs), year, tz, sensor)
    if key not in _TEMP_STORES:
        tmp = Path(tempfile.mkdtemp(prefix="honeyscope-"))
        atexit.register(shutil.rmtree, tmp, True)
        # live=False: every line, even a live log's unterminated last one (no next ingest here)
        led = ingest(srcs, tmp / "store", year=year, tz=tz, sensor=sensor, progress=progress,
                     live=False)
        if led.errors():  # a damaged or refused input: the analysis would be of part of the data
            raise ValueError("; ".join(led.errors())
                             + " (`honeyscope ingest` keeps the readable part in a store)")
        _TEMP_STORES[key] = tmp / "store"
    return Store(_TEMP_STORES[key])


def remote_packet_files(url: str) -> list[str]:
    """The committed Parquet files of a store at ``url`` (``s3://``, ``hdfs://``, ``file://``...)."""
    import json

    from pyarrow import fs

    filesystem, root = fs.FileSystem.from_uri(url.rstrip("/"))
    with filesystem.open_input_stream(f"{root}/manifest.json") as f:
        manifest = json.loads(f.read())
    base = url.rstrip("/")
    from honeyscope.store.store import InputRecord

    records = [InputRecord.from_dict(d) for d in manifest["inputs"]]
    return [f"{base}/{p}" for r in records for p in r.parts]


def open_packets(
    sources: Sequence[str | Path] | str | Path,
    *,
    engine: str = _engine.DEFAULT_ENGINE,
    year: int | None = None,
    tz: str | None = None,
    sensor: str | None = None,
    con: ibis.BaseBackend | None = None,
) -> ibis.Table:
    """The canonical packet table of a store directory or of data files, as an Ibis table on
    ``engine`` (DuckDB in-process by default; ``spark://HOST:PORT`` or ``local[N]`` for Spark)."""
    if con is None:
        con = _engine.connect(engine)
    elif getattr(con, "name", "") == "duckdb":
        con.raw_sql("SET TimeZone = 'UTC'")  # days are UTC days on a connection we were given too
    srcs = [str(s) for s in ([sources] if isinstance(sources, str | Path) else sources)]
    if len(srcs) == 1 and "://" in srcs[0]:
        # a store on an object store / HDFS, read where it lies by the engine itself; the
        # manifest (read through pyarrow's filesystems) names the committed files, as locally
        return _engine.packets_from_files(con, remote_packet_files(srcs[0]))
    store = resolve_store(srcs, year=year, tz=tz, sensor=sensor)
    from honeyscope.store.frames import require_packets

    require_packets(store)  # no packet at all: one sentence (lines read, rejected), not empty answers
    return _engine.packets_from_files(con, store.packet_files())


def _as_arrow(source: Any) -> pa.Table | None:
    """``source`` as an Arrow table when it is a DataFrame (pandas, polars) or Arrow; else None."""
    if isinstance(source, pa.Table):
        return source
    if isinstance(source, pa.RecordBatchReader):
        return source.read_all()
    if isinstance(source, pd.DataFrame):
        return pa.Table.from_pandas(source, preserve_index=False)
    mod = type(source).__module__
    if mod.startswith("polars"):
        if hasattr(source, "collect"):  # a LazyFrame
            source = source.collect()
        return source.to_arrow()
    return None


def packets_of(source: Source, *, engine: str = _engine.DEFAULT_ENGINE) -> ibis.Table:
    """The packet table of any SOURCE: an Ibis table as is; a pandas / polars DataFrame or an
    Arrow table registered on ``engine`` (columns conformed to the store's schema); a store
    directory or data files opened (see :func:`open_packets`)."""
    if isinstance(source, ibis.Table):
        return source
    table = _as_arrow(source)
    if table is not None:
        from honeyscope import schema

        return _engine.packets_from_arrow(_engine.connect(engine), schema.conform(table))
    if isinstance(source, str | Path) or (
            isinstance(source, Sequence) and all(isinstance(s, str | Path) for s in source)):
        return open_packets(source, engine=engine)
    raise TypeError(f"a SOURCE is a store, data files, an Ibis table, a DataFrame or an Arrow table, "
                    f"not {type(source).__name__}")


def _convert(result: Any, to: To) -> Any:
    """A table as ``to`` asks; anything else (``ip``'s card) as it is."""
    if isinstance(result, ibis.Expr):
        result = result.execute()
    if to == "pandas" or not isinstance(result, pd.DataFrame):
        return result
    if to == "arrow":
        return pa.Table.from_pandas(result, preserve_index=False)
    if to == "polars":
        import polars as pl

        return pl.from_pandas(result)
    raise ValueError(f"to={to!r}: use 'pandas', 'polars' or 'arrow'")


def _run(name: str, source: Source, compute: Callable[[ibis.Table], Any], *, engine: str, to: To,
         start: When, end: When, sensors: Names, src: Names, proto: Names, port: Ports) -> Any:
    """The one core of every analysis: SOURCE → packet table → the selection → ``compute`` →
    a pandas (or ``to``) result that remembers which analysis made it (for :func:`chart`)."""
    if to not in ("pandas", "polars", "arrow"):
        raise ValueError(f"to={to!r}: use 'pandas', 'polars' or 'arrow'")
    sel = _select.selection(start=start, end=end, sensors=sensors, src=src, proto=proto, port=port)
    t = _select.apply(packets_of(source, engine=engine), sel)
    result = compute(t)
    if isinstance(result, ibis.Expr):
        result = result.execute()
    if isinstance(result, pd.DataFrame):
        from honeyscope.store.frames import restore_ints

        result = restore_ints(result)  # ports and codes as integers, not floats
        result.attrs["analysis"] = name
    return _convert(result, to)


def _limit(t: ibis.Table, n: int) -> ibis.Table:
    return t.limit(n) if n and n > 0 else t


# --- the analyses: one function per entry of honeyscope.analyse.registry -------------------------


def summary(source: Source, *, start: When = None, end: When = None, sensors: Names = None, src: Names = None,
            proto: Names = None, port: Ports = None, engine: str = _engine.DEFAULT_ENGINE,
            to: To = "pandas") -> pd.DataFrame:
    """R's ``summary()`` of the packets, one row per statistic.

    >>> honeyscope.summary("store").head(3)        # doctest: +SKIP
      column  kind   stat                      value
    0   time  time  First  2013-03-03T21:53:59+00:00
    1   time  time   Last  2013-09-08T05:54:18+00:00
    2   time  time   Days                        190
    """
    from honeyscope.analyse import explore

    return _run("summary", source, explore.summary, engine=engine, to=to, start=start, end=end,
                sensors=sensors, src=src, proto=proto, port=port)


def count(source: Source, by: str | Sequence[str], *, start: When = None, end: When = None,
          sensors: Names = None, src: Names = None, proto: Names = None, port: Ports = None,
          engine: str = _engine.DEFAULT_ENGINE, to: To = "pandas") -> pd.DataFrame:
    """Packets per value of the ``by`` columns (``"proto,icmp_type"`` or a list), NA a value too.

    >>> honeyscope.count("store", by="proto")      # doctest: +SKIP
      proto   count
    0  ICMP   ...
    """
    from honeyscope.analyse import explore

    cols = [b.strip() for b in by.split(",") if b.strip()] if isinstance(by, str) else list(by)
    return _run("count", source, lambda t: explore.count(t, cols), engine=engine, to=to, start=start,
                end=end, sensors=sensors, src=src, proto=proto, port=port)


def daily(source: Source, *, unique: bool = False, ma: int | None = None,
          by: Literal["host", "none"] = "host", start: When = None, end: When = None, sensors: Names = None,
          src: Names = None, proto: Names = None, port: Ports = None, engine: str = _engine.DEFAULT_ENGINE,
          to: To = "pandas") -> pd.DataFrame:
    """Packets (``unique``: distinct sources) per sensor per UTC day; days without packets inside
    a sensor's span are 0; ``ma=N``: centred N-day moving average (R's ``filter``).

    >>> honeyscope.daily("store", sensors="groucho-eu").head(3)      # doctest: +SKIP
             host        day  value
    0  groucho-eu 2013-03-03      6
    1  groucho-eu 2013-03-04    104
    2  groucho-eu 2013-03-05     99
    """
    from honeyscope.analyse import explore

    if by not in ("host", "none"):
        raise ValueError(f"by={by!r}: use 'host' or 'none'")
    return _run("daily", source, lambda t: explore.daily(t, unique=unique, ma=ma, by_host=by == "host"),
                engine=engine, to=to, start=start, end=end, sensors=sensors, src=src, proto=proto,
                port=port)


def ports(source: Source, *, proto: str = "tcp", top: int = 10, by: Literal["host", "none"] = "none",
          start: When = None, end: When = None, sensors: Names = None, src: Names = None, port: Ports = None,
          engine: str = _engine.DEFAULT_ENGINE, to: To = "pandas") -> pd.DataFrame:
    """The ``top`` destination ports of ``proto`` (``all``: every protocol), overall or per sensor
    (``by="host"``); ``proto`` is the selection's protocol here.

    >>> honeyscope.ports("store", top=3)        # doctest: +SKIP
       port   count
    0  1433  109425
    1   445   40611
    2  3389   30077
    """
    from honeyscope.analyse import explore

    if by not in ("host", "none"):
        raise ValueError(f"by={by!r}: use 'host' or 'none'")
    return _run("ports", source, lambda t: explore.ports(t, proto=proto, top=top, by_host=by == "host"),
                engine=engine, to=to, start=start, end=end, sensors=sensors, src=src, proto=None, port=port)


def port_sources(source: Source, *, proto: Literal["tcp", "udp"] = "tcp", top: int = 10,
                 start: When = None, end: When = None, sensors: Names = None, src: Names = None,
                 port: Ports = None, engine: str = _engine.DEFAULT_ENGINE, to: To = "pandas") -> pd.DataFrame:
    """Part 2's metric: distinct sources per sensor per day on the ``top`` ports, averaged over sensors.

    >>> honeyscope.port_sources("store").head(2)      # doctest: +SKIP
       port        day      value
    0  1433 2013-03-03   9.000000
    1  1433 2013-03-04  20.777778
    """
    from honeyscope.analyse import explore

    return _run("port_sources", source, lambda t: explore.port_sources(t, proto=proto, top=top),
                engine=engine, to=to, start=start, end=end, sensors=sensors, src=src, proto=None, port=port)


def enrich(source: Source, *, top: int = 0, by: Literal["source", "country", "asn"] = "source",
           start: When = None, end: When = None, sensors: Names = None, src: Names = None,
           proto: Names = None,
           port: Ports = None, engine: str = _engine.DEFAULT_ENGINE, to: To = "pandas") -> pd.DataFrame:
    """Country and ASN of every source (offline database), or sources and packets per country / ASN.

    >>> honeyscope.enrich("store", by="country", top=1)      # doctest: +SKIP
       cc country  sources  packets
    0  CN   China    ...      ...
    """
    from honeyscope.analyse import enrich as _enrich

    if by not in ("source", "country", "asn"):
        raise ValueError(f"by={by!r}: use 'source', 'country' or 'asn'")

    def compute(t: ibis.Table) -> ibis.Table:
        return _limit(_enrich.origin_rollup(_enrich.sources(t), by), top)

    return _run("enrich", source, compute, engine=engine, to=to, start=start, end=end, sensors=sensors,
                src=src, proto=proto, port=port)


_SORTS = {"sensors": [ibis.desc("sensors"), ibis.desc("packets")], "packets": [ibis.desc("packets")],
          "ports": [ibis.desc("ports"), ibis.desc("packets")], "first_seen": ["first_seen"]}


def sources(source: Source, *, top: int = 30,
            sort: Literal["sensors", "packets", "ports", "first_seen"] = "sensors", summary: bool = False,
            start: When = None, end: When = None, sensors: Names = None, src: Names = None,
            proto: Names = None,
            port: Ports = None, engine: str = _engine.DEFAULT_ENGINE, to: To = "pandas") -> pd.DataFrame:
    """Each source across the fleet: sensors reached, order, lag, reach; ``summary``: sources per
    reach level.

    >>> honeyscope.sources("store", top=1)[["src", "sensors", "packets"]]   # doctest: +SKIP
                 src  sensors  packets
    0  ...                  9      ...
    """
    from honeyscope.analyse import fleet

    if sort not in _SORTS:
        raise ValueError(f"sort={sort!r}: use {', '.join(_SORTS)}")

    def compute(t: ibis.Table) -> ibis.Table:
        p = fleet.source_profiles(t)
        if summary:
            return fleet.reach_summary(p)
        return _limit(p.order_by([*_SORTS[sort], "src"]), top)

    return _run("sources", source, compute, engine=engine, to=to, start=start, end=end, sensors=sensors,
                src=src, proto=proto, port=port)


def source(source: Source, ip: str | Sequence[str], *, limit: int = 1000, start: When = None,
           end: When = None, sensors: Names = None, src: Names = None, proto: Names = None,
           port: Ports = None,
           engine: str = _engine.DEFAULT_ENGINE, to: To = "pandas") -> pd.DataFrame:
    """The packets of one or more sources (``ip``: an address, comma-separated or a list) across all
    sensors, in time order, with the gap since the previous one. No packet from them is an error
    (:class:`~honeyscope.analyse.select.SelectionError`).

    >>> honeyscope.source("store", "183.91.14.60")[["time", "host", "dpt"]].head(1)   # doctest: +SKIP
                           time       host   dpt
    0 2013-03-04 01:08:25+00:00  groucho-... ...
    """
    from honeyscope.analyse import fleet

    ips = [i.strip() for i in ip.split(",") if i.strip()] if isinstance(ip, str) else list(ip)
    if not ips:
        raise ValueError("source wants an address")

    def compute(t: ibis.Table) -> pd.DataFrame:
        df = _limit(fleet.source_timeline(t, ips), limit).execute()
        if df.empty:
            raise _select.SelectionError(f"no packets from {', '.join(ips)} in the selection")
        return df

    return _run("source", source, compute, engine=engine, to=to, start=start, end=end, sensors=sensors,
                src=src, proto=proto, port=port)


#: the columns ``scans`` shows (the analysis has more)
SCAN_COLUMNS = ["src", "cc", "asn", "scan_type", "psad_name", "pattern", "kind", "packets", "targets",
                "sensors", "ports", "port_range", "src_protocols", "first_seen", "last_seen"]


def scans(source: Source, *, min_ports: int = 10, min_targets: int = 5, min_protocols: int = 5,
          no_ack: bool = False, window_hours: float = 24.0, pattern: str | None = None, top: int = 50,
          summary: bool = False, start: When = None, end: When = None, sensors: Names = None,
          src: Names = None, proto: Names = None, port: Ports = None, engine: str = _engine.DEFAULT_ENGINE,
          to: To = "pandas") -> pd.DataFrame:
    """Vertical, horizontal, block and protocol scans and backscatter, typed as psad does;
    ``summary``: counts per pattern and type.

    >>> honeyscope.scans("store", summary=True).head(1)      # doctest: +SKIP
          pattern scan_type  scans  sources  packets
    0  horizontal       SYN    ...      ...      ...
    """
    from honeyscope.analyse import scans as _scans

    def compute(t: ibis.Table) -> pd.DataFrame:
        found = _scans.scans(t, min_ports=min_ports, min_targets=min_targets, min_protocols=min_protocols,
                             include_ack=not no_ack, window_hours=window_hours)
        if pattern:
            found = found.filter(found.pattern == pattern)
        if summary:
            return _scans.pattern_counts(found).execute()
        return _limit(found, top).execute()[SCAN_COLUMNS]

    return _run("scans", source, compute, engine=engine, to=to, start=start, end=end, sensors=sensors,
                src=src, proto=proto, port=port)


def compare(source: Source, *, by: Literal["sensor", "day", "hour", "week", "sensor-day"] = "sensor",
            start: When = None, end: When = None, sensors: Names = None, src: Names = None,
            proto: Names = None,
            port: Ports = None, engine: str = _engine.DEFAULT_ENGINE, to: To = "pandas") -> pd.DataFrame:
    """Fair comparison: per sensor (packets and sources per day), per sensor-day, or per
    day/hour/week normalised by the sensors reporting.

    >>> honeyscope.compare("store").columns.tolist()      # doctest: +SKIP
    ['host', 'days', 'packets', 'packets_per_day', 'sources_per_day', 'prefixes_per_day', 'asns_per_day',
     'untimed']
    """
    from honeyscope.analyse import fleet

    if by not in ("sensor", "day", "hour", "week", "sensor-day"):
        raise ValueError(f"by={by!r}: use sensor, day, hour, week or sensor-day")

    def compute(t: ibis.Table) -> ibis.Table:
        if by == "sensor":
            return fleet.compare_sensors(t)
        if by == "sensor-day":
            return fleet.fair_by_sensor(t, "day")
        return fleet.fair_daily(t, by)

    return _run("compare", source, compute, engine=engine, to=to, start=start, end=end, sensors=sensors,
                src=src, proto=proto, port=port)


def events(source: Source, *, kind: Sequence[str] | None = None, top: int = 50, start: When = None,
           end: When = None, sensors: Names = None, src: Names = None, proto: Names = None,
           port: Ports = None,
           engine: str = _engine.DEFAULT_ENGINE, to: To = "pandas", **thresholds: float) -> pd.DataFrame:
    """Floods, sweeps, campaigns, backscatter and rate-capped sensors, with who, where and when;
    ``thresholds``: the fields of :class:`~honeyscope.analyse.events.EventOptions` (the CLI's
    threshold options).

    >>> honeyscope.events("store", kind=["flood"], top=1)[["kind", "src", "packets"]]   # doctest: +SKIP
        kind            src  packets
    0  flood  ...              ...
    """
    from honeyscope.analyse import events as _events

    opts = _events.EventOptions(**thresholds)  # an unknown threshold is a TypeError naming it
    kinds = tuple(kind or _events.KINDS)
    unknown = [k for k in kinds if k not in _events.KINDS]
    if unknown:
        raise ValueError(f"unknown event kind {', '.join(unknown)}: use {', '.join(_events.KINDS)}")

    def compute(t: ibis.Table) -> pd.DataFrame:
        df = _events.events(t, opts, kinds=kinds)
        return df.head(top) if top else df

    return _run("events", source, compute, engine=engine, to=to, start=start, end=end, sensors=sensors,
                src=src, proto=proto, port=port)


def health(source: Source, *, by: Literal["sensor", "day", "hour"] = "sensor", start: When = None,
           end: When = None, sensors: Names = None, src: Names = None, proto: Names = None,
           port: Ports = None,
           engine: str = _engine.DEFAULT_ENGINE, to: To = "pandas") -> pd.DataFrame:
    """Sensor health: per sensor its completeness and the frequencies at which it looks
    rate-capped (``capped``, and the reasons in ``result.attrs["capping"]``); per sensor-day or
    sensor-hour (``by``) its rows and lower-bound marks.

    >>> honeyscope.health("store")[["host", "completeness", "capped"]].head(1)   # doctest: +SKIP
             host  completeness capped
    0  groucho-eu         0.97
    """
    from honeyscope.analyse import health as _health

    if by not in ("sensor", "day", "hour"):
        raise ValueError(f"by={by!r}: use sensor, day or hour")

    def compute(t: ibis.Table) -> pd.DataFrame:
        caps = _health.capping(t)
        if by != "sensor":
            return _health.health(t, freq=by, caps=caps)
        df = _health.completeness(t)
        if len(caps):
            capped = caps.groupby("host")["freq"].agg(lambda s: ",".join(s))
            df["capped"] = df["host"].map(capped).fillna("")
        else:
            df["capped"] = ""
        df.attrs["capping"] = caps
        return df

    return _run("health", source, compute, engine=engine, to=to, start=start, end=end, sensors=sensors,
                src=src, proto=proto, port=port)


def gaps(source: Source, *, min_gap: float = 1.0, alpha: float = 0.01, quiet: bool = False,
         start: When = None, end: When = None, sensors: Names = None, src: Names = None, proto: Names = None,
         port: Ports = None, engine: str = _engine.DEFAULT_ENGINE, to: To = "pandas") -> pd.DataFrame:
    """Silences beyond each sensor's own normal quiet periods (``min_gap`` hours at least, fewer
    than ``alpha`` expected); ``quiet``: also each sensor's longest normal silence.

    >>> honeyscope.gaps("store")[["host", "hours", "why"]].head(1)      # doctest: +SKIP
    """
    from honeyscope.analyse import health as _health

    o = _health.GapOptions(alpha=alpha, min_gap=min_gap * 3600)
    return _run("gaps", source, lambda t: _health.gaps(t, o, include_quiet=quiet), engine=engine, to=to,
                start=start, end=end, sensors=sensors, src=src, proto=proto, port=port)


def trends(source: Source, *, metric: Literal["sources", "packets"] = "sources", top: int = 30,
           rise: str | None = None, split: str | date | None = None, start: When = None, end: When = None,
           sensors: Names = None, src: Names = None, proto: Names = None, port: Ports = None,
           engine: str = _engine.DEFAULT_ENGINE, to: To = "pandas") -> pd.DataFrame:
    """Level shifts per sensor and per sensor-port (one Bonferroni family per call); with
    ``rise="tcp/23"`` and ``split``: one row, whether that port's Part-2 metric rose after ``split``.

    >>> honeyscope.trends("store", rise="tcp/23", split="2013-05-01")["why"][0]   # doctest: +SKIP
    'TCP/23: ... rose ... (p = ...)'
    """
    from honeyscope.analyse import trends as _trends

    if (rise is None) != (split is None):
        raise ValueError("rise PROTO/PORT and split DATE go together")
    if rise is not None:
        p, sep, n = str(rise).partition("/")
        if not sep or not n.strip().isdigit() or int(n) > 65535:
            raise ValueError(f"rise wants PROTO/PORT such as tcp/23, not {rise!r}")
        rise_proto, rise_port = p.strip().upper(), int(n)

    def compute(t: ibis.Table) -> pd.DataFrame:
        if rise is not None:
            return pd.DataFrame([_trends.rise_test(t, rise_proto, rise_port, split)])
        s = _trends.series(t, ("host",), metric)
        sp = _trends.series(t, ("host", "proto", "dpt"), metric, top=top)
        family = _trends.changepoint_tests(s) + _trends.changepoint_tests(sp)  # one family per run
        return pd.concat([_trends.changepoints(s, metric=metric, family=family),
                          _trends.changepoints(sp, metric=metric, family=family)], ignore_index=True)

    return _run("trends", source, compute, engine=engine, to=to, start=start, end=end, sensors=sensors,
                src=src, proto=proto, port=port)


def anomalies(source: Source, *, metric: Literal["sources", "packets", "both"] = "sources", top: int = 30,
              start: When = None, end: When = None, sensors: Names = None, src: Names = None,
              proto: Names = None,
              port: Ports = None, engine: str = _engine.DEFAULT_ENGINE, to: To = "pandas") -> pd.DataFrame:
    """Spikes, dips, changepoints and emerging ports per sensor and sensor-port, one row per flag
    with its reason in ``why``; empty when nothing is flagged.

    >>> honeyscope.anomalies("store")[["kind", "host", "why"]].head(1)   # doctest: +SKIP
    """
    from honeyscope.analyse import trends as _trends

    return _run("anomalies", source, lambda t: _trends.anomalies(t, metric=metric, top_ports=top),
                engine=engine, to=to, start=start, end=end, sensors=sensors, src=src, proto=proto,
                port=port)


def survival(source: Source, *, top: int = 20, by_sensor: bool = False, new_sources: bool = False,
             start: When = None, end: When = None, sensors: Names = None, src: Names = None,
             proto: Names = None,
             port: Ports = None, engine: str = _engine.DEFAULT_ENGINE, to: To = "pandas") -> pd.DataFrame:
    """Hours to the first probe of each of the ``top`` ports (Kaplan-Meier over sensors; per sensor
    with ``by_sensor``), or (``new_sources``) the time between never-seen-before sources per sensor.

    >>> honeyscope.survival("store").columns.tolist()     # doctest: +SKIP
    ['proto', 'dpt', 'sensors', 'probed', 'min_hours', 'median_hours', 'max_hours']
    """
    from honeyscope.analyse import survival as _survival

    def compute(t: ibis.Table) -> pd.DataFrame:
        if new_sources:
            return _survival.new_source_intervals(t)
        fp = _survival.first_probe(t, top=top)
        return fp if by_sensor else _survival.survival_summary(fp)

    return _run("survival", source, compute, engine=engine, to=to, start=start, end=end, sensors=sensors,
                src=src, proto=proto, port=port)


def ip(source: Source, addr: str, *, top: int = 10, start: When = None, end: When = None,
       sensors: Names = None, src: Names = None, proto: Names = None, port: Ports = None,
       engine: str = _engine.DEFAULT_ENGINE, to: To = "pandas") -> Any:
    """One card for the source ``addr``: first/last seen, packets, sensors reached and in which
    order, its ``top`` ports and protocols, scan type, country and ASN, its timeline
    (:func:`honeyscope.analyse.ip.ip_card`; a card, not a table: ``to`` leaves it as it is).

    >>> honeyscope.ip("store", "183.91.14.60").to_dict()["packets"]       # doctest: +SKIP
    """
    from honeyscope.analyse import ip as _ip  # written by the `outputs` developer

    return _run("ip", source, lambda t: _ip.ip_card(t, addr, top=top), engine=engine, to=to, start=start,
                end=end, sensors=sensors, src=src, proto=proto, port=port)


def chart(result: pd.DataFrame, **options: Any):
    """The chart of an analysis result (``daily``, ``ports``, ``port_sources``): a plotnine plot,
    drawn inline in a notebook (``_repr_png_``), saved with ``.save("x.png")``.

    >>> honeyscope.chart(honeyscope.ports("store"))         # doctest: +SKIP
    """
    from honeyscope.render import charts

    if not isinstance(result, pd.DataFrame):
        raise TypeError("chart() draws a pandas result of daily, ports or port_sources")
    name = result.attrs.get("analysis")
    if name == "daily":
        return charts.daily_chart(result, **options)
    if name == "ports":
        return charts.ports_chart(result, **options)
    if name == "port_sources":
        return charts.port_box_chart(result, **options)
    raise ValueError(f"no chart for {name or 'this table'}: chart() draws daily, ports and port_sources")


__all__ += ["anomalies", "compare", "count", "daily", "enrich", "events", "gaps", "health", "ip",
            "port_sources", "ports", "scans", "source", "sources", "summary", "survival", "trends"]
