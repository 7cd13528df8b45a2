"""The exploratory analyses of Jacobs' "Inspecting Internet Traffic" (parts 1 and 2), as Ibis.

Every analysis is written once, as an Ibis expression over the canonical packet table
(:mod:`honeyscope.schema`), so that DuckDB runs it here and Spark runs it unchanged on a cluster.
``*_expr`` functions build the expression; the function of the analysis' own name executes it and
returns a pandas DataFrame (with at most light reshaping of the already aggregated result).

Conventions
-----------
* A *day* is the UTC calendar date of ``time``.
* ``daily``: the days of a sensor run from its first to its last packet; a day inside that span
  without packets counts 0 (so gaps show as gaps, not as missing bars). With ``ma=N`` the value is
  R's ``stats::filter(x, rep(1/N, N), sides = 2)``: the centred N-day mean (for even N one more day
  ahead than behind), and days without a full window are left out.
* Ports are counted per protocol: TCP 80 is not UDP 80. Ties in a top-N are broken by the smaller
  port first (R's ``summary(factor(x))`` order).
* ``port_sources`` is part 2's metric: for each day, sensor and port the number of distinct
  sources; then for each day and port the mean over the sensors that saw that port that day.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import pandas as pd

from honeyscope.analyse import names
from honeyscope.analyse.base import timed, zero_fill
from honeyscope.store.frames import time_text

# --- column roles for summary() ------------------------------------------------------------------

#: Columns read as numbers *and* as categories ("ports are not numbers", part 2).
PORT_COLUMNS = ("spt", "dpt", "inner_spt", "inner_dpt")
CODE_COLUMNS = ("icmp_type", "icmp_code", "inner_icmp_type", "inner_icmp_code")
#: Addresses: summarised as distinct counts.
ADDRESS_COLUMNS = ("src", "dst", "inner_src", "inner_dst", "mac_src", "mac_dst", "mac")
#: Small-domain columns stored as numbers that are really categories.
NUMERIC_CATEGORIES = ("family", "ethertype", "df", "mf", "ce")
#: Bookkeeping, not traffic.
SKIP_COLUMNS = ("source", "line")

#: Joins column and statistic in summary's wide row; not a regex metacharacter (Spark's split
#: takes a regex) and in no column name.
SEP = "~"

NUMERIC_STATS = ("Min.", "1st Qu.", "Median", "Mean", "3rd Qu.", "Max.")
#: Above this many distinct values (estimated) a numeric column's quartiles are the engine's
#: approximation (t-digest on DuckDB, percentile_approx on Spark), listed in
#: ``summary(...).attrs["approximate"]``; up to it they are exact, from the value counts.
EXACT_LEVELS = 4_000_000
#: R's summary.data.frame default: up to 7 levels shown, else the top 6 and ``(Other)``.
MAXSUM = 7

PROTOS = {"tcp": "TCP", "udp": "UDP", "icmp": "ICMP", "icmpv6": "ICMPv6"}


def _roles(t: ir.Table) -> dict[str, list[str]]:
    """Which summary blocks each column of ``t`` gets: numeric, category, address, time."""
    roles: dict[str, list[str]] = {}
    for name, dtype in t.schema().items():
        if name in SKIP_COLUMNS:
            continue
        if name in ADDRESS_COLUMNS:
            roles[name] = ["address"]
        elif dtype.is_timestamp():
            roles[name] = ["time", "category"]
        elif name in PORT_COLUMNS or name in CODE_COLUMNS:
            roles[name] = ["numeric", "category"]
        elif name in NUMERIC_CATEGORIES or dtype.is_string() or dtype.is_boolean():
            roles[name] = ["category"]
        elif dtype.is_numeric():
            roles[name] = ["numeric"]
    return roles


def present_columns_expr(t: ir.Table, levels: Sequence[str] = ()) -> ir.Table:
    """One row: the number of non-null values of every column, and ``__rows``; for each column of
    ``levels``, ``column~levels``: its number of distinct values, estimated (HyperLogLog: small,
    fixed memory)."""
    metrics: dict[str, ir.Scalar] = {name: t[name].count() for name in t.columns}
    metrics["__rows"] = t.count()
    metrics |= {f"{c}{SEP}levels": t[c].approx_nunique() for c in levels}
    return t.aggregate(**metrics)


def _row(column: str, kind: str, stat: ir.Value | str, order: int | ir.Value, value) -> dict:
    return {
        "column": ibis.literal(column),
        "kind": ibis.literal(kind),
        "stat": ibis.literal(stat) if isinstance(stat, str) else stat.cast("string"),
        "ord": ibis.literal(order).cast("int64") if isinstance(order, int) else order.cast("int64"),
        "value": value.cast("float64"),
    }


def _value_counts(t: ir.Table, c: str) -> ir.Table:
    """``level, n``: how many rows hold each non-null value of column ``c``."""
    nn = t.filter(t[c].notnull())
    return nn.group_by(level=t[c]).aggregate(n=nn.count())


def _quantiles_by_counts(t: ir.Table, c: str, counts: ir.Table | None = None) -> ir.Table:
    """Exact 1st Qu., Median, 3rd Qu. of column ``c`` (R's type 7) from its value counts.

    Memory is bounded by the number of distinct values, not of rows (a quantile aggregate keeps
    every value): sort the (value, count) pairs, and the value of 0-based rank ``k`` is the
    smallest one whose running count exceeds ``k``; then ``lo + (hi - lo) * frac`` as DuckDB's
    ``quantile_cont`` does, so the numbers are the same to the bit.
    """
    counts = _value_counts(t, c) if counts is None else counts
    g = counts.select(v=counts.level.cast("float64"), n=counts.n)
    g = g.mutate(cum=g.n.cumsum(order_by=g.v), total=g.n.sum().over())
    wide: dict[str, ir.Scalar] = {}
    for p, stat in ((0.25, "1st Qu."), (0.5, "Median"), (0.75, "3rd Qu.")):
        h = (g.total - 1).cast("float64") * p  # the same on every row
        k = h.floor()
        lo = g.v.min(where=g.cum > k)
        hi = g.v.min(where=g.cum > k + 1).coalesce(lo)
        frac = (h - k).max()
        wide[f"{c}{SEP}{stat}"] = ibis.cases((frac == 0, lo), else_=lo + (hi - lo) * frac)
    return g.aggregate(**wide)


def _long(w: ir.Table) -> ir.Table:
    """A one-row table of ``column~stat`` numbers as ``column, kind, stat, ord, value`` rows."""
    numbers = w.pivot_longer(ibis.selectors.all(), names_to="key", values_to="value")
    numbers = numbers.mutate(
        column=numbers.key.split(SEP)[0],
        stat=numbers.key.split(SEP)[1],
    )
    return numbers.select(
        column="column", kind=ibis.literal("number"), stat="stat",
        ord=ibis.literal(0).cast("int64"), value=numbers.value.cast("float64"),
    )


def summary_expr(
    t: ir.Table, columns: Sequence[str] | None = None, approx: Sequence[str] = ()
) -> ir.Table:
    """R's ``summary()`` made domain-aware, as one long table ``column, kind, stat, ord, value``.

    ``kind='number'`` rows hold one number per ``stat`` of a column: ``nn`` (non-null values);
    for numeric columns Min., 1st Qu., Median, Mean, 3rd Qu., Max. (quantiles by linear
    interpolation, R's default type 7); for addresses Distinct; for the time First and Last
    (epoch seconds) and Days (distinct UTC dates). ``column='_rows'`` is the row count.
    ``kind='category'`` rows are the 7 most frequent levels of a categorical column, most
    frequent first, ties by level (``ord`` 0..6), plus ``(levels)`` (the number of levels, ``ord``
    -2). Ports and ICMP types/codes are both numeric and categorical; the time's levels are its
    seconds, like R's factor of the seed's datetime text.

    Memory stays bounded whatever the number of rows: the plain aggregates (counts, min, mean,
    max) share one scan, the distinct counts another (DuckDB mixing both in one aggregate keeps
    far more state), and quantiles come from each column's value counts
    (:func:`_quantiles_by_counts`: exact, bounded by the distinct values). Columns in ``approx``
    (too many distinct values for that) get the engine's approximate quantiles instead
    (DuckDB's t-digest ``approx_quantile``, Spark's ``percentile_approx``).

    ``columns`` defaults to every summarisable column; :func:`summary` passes the non-empty ones.
    """
    roles = _roles(t)
    cols = [c for c in (columns if columns is not None else list(roles)) if c in roles]
    plain: dict[str, ir.Scalar] = {f"_rows{SEP}nn": t.count()}
    distinct: dict[str, ir.Scalar] = {}
    approximate: dict[str, ir.Scalar] = {}
    exact_quantiles: list[str] = []
    for c in cols:
        col = t[c]
        plain[f"{c}{SEP}nn"] = col.count()
        if "numeric" in roles[c]:
            x = col.cast("float64")
            plain[f"{c}{SEP}Min."] = x.min()
            plain[f"{c}{SEP}Mean"] = x.mean()
            plain[f"{c}{SEP}Max."] = x.max()
            if c in approx:
                q = x.approx_quantile([0.25, 0.5, 0.75])
                for i, stat in enumerate(("1st Qu.", "Median", "3rd Qu.")):
                    approximate[f"{c}{SEP}{stat}"] = q[i]
            else:
                exact_quantiles.append(c)
        if "address" in roles[c]:
            distinct[f"{c}{SEP}Distinct"] = col.nunique()
        if "time" in roles[c]:
            plain[f"{c}{SEP}First"] = col.min().epoch_seconds()
            plain[f"{c}{SEP}Last"] = col.max().epoch_seconds()
            distinct[f"{c}{SEP}Days"] = col.date().nunique()
    numbers = [t.aggregate(**{k: v.cast("float64") for k, v in plain.items()})]
    if distinct:
        numbers.append(t.aggregate(**{k: v.cast("float64") for k, v in distinct.items()}))
    if approximate:
        numbers.append(t.aggregate(**{k: v.cast("float64") for k, v in approximate.items()}))
    # a port's or an ICMP code's value counts serve both its quartiles and its levels
    shared = {c: _value_counts(t, c) for c in exact_quantiles if "category" in roles[c]}
    numbers += [_quantiles_by_counts(t, c, shared.get(c)) for c in exact_quantiles]
    parts: list[ir.Table] = [_long(w) for w in numbers]
    for c in cols:
        if "category" not in roles[c]:
            continue
        col = t[c]
        is_time = col.type().is_timestamp()
        # a time's level is its whole epoch second: grouping on an integer is ~4x faster in
        # DuckDB than date_trunc on a zoned timestamp, and orders the same; only the 7 shown
        # levels are turned back into text
        if c in shared:
            g = shared[c]
        else:
            level = col.epoch_seconds().floor() if is_time else col
            nn = t.filter(col.notnull())
            g = nn.group_by(level=level).aggregate(n=nn.count())
        order = [ibis.desc(g.n), ibis.asc(g.level)]
        ranked = g.mutate(rank=ibis.row_number().over(order_by=order))
        top = ranked.filter(ranked["rank"] < MAXSUM)
        # RFC 3339 built from a space-separated format: Spark's date_format has no literal T or Z
        stat = (
            top.level.as_timestamp("s").strftime("%Y-%m-%d %H:%M:%S").replace(" ", "T") + "Z"
            if is_time else top.level
        )
        parts.append(top.select(**_row(c, "category", stat, top["rank"], top.n)))
        lv = ranked.aggregate(levels=ranked.count())
        parts.append(lv.select(**_row(c, "category", "(levels)", -2, lv.levels)))
    return ibis.union(*parts)


def summary(t: ir.Table, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Execute :func:`summary_expr` over the non-empty columns of ``t``.

    Returns ``column, kind, stat, value`` in table column order, one block per (column, kind):
    ``time`` (First, Last as ISO text, Days), ``category`` (at most 7 levels, or the top 6 and
    ``(Other)`` when there are more: R's ``maxsum = 7``; then NA's when non-zero), ``numeric``
    (Min. .. Max., then NA's when non-zero) and ``address`` (Distinct, NA's when non-zero).
    Counts are ``int``, numeric statistics ``float``, exact (formatting is the renderer's job),
    except the quartiles of the columns listed in ``df.attrs["approximate"]``: those with more
    than :data:`EXACT_LEVELS` distinct values (e.g. random TCP sequence numbers of 10^8 rows),
    whose quartiles are the engine's approximation so that memory stays bounded.
    """
    roles = _roles(t)
    numeric = [c for c in roles if "numeric" in roles[c]]
    # with the distinct values of each numeric column, estimated: the exact quantiles' memory
    # grows with them, so past EXACT_LEVELS the quantiles are approximate (one aggregate: a cross
    # join of two took Ibis longer to build than DuckDB to run)
    counts = present_columns_expr(t, numeric).execute().iloc[0]
    wanted = [c for c in (columns or list(roles)) if c in roles and counts[c] > 0]
    if not wanted:
        return pd.DataFrame(columns=["column", "kind", "stat", "value"])
    approx = [c for c in wanted if c in numeric and counts[f"{c}{SEP}levels"] > EXACT_LEVELS]
    raw = summary_expr(t, wanted, approx=approx).execute()
    nums = raw[raw["kind"] == "number"].set_index(["column", "stat"])["value"]
    cats = raw[raw["kind"] == "category"]
    rows = int(nums[("_rows", "nn")])
    out: list[dict] = []

    def add(c: str, kind: str, stat: str, value: object) -> None:
        out.append({"column": c, "kind": kind, "stat": stat, "value": value})

    for c in wanted:
        nn = int(nums[(c, "nn")])
        na = rows - nn
        for kind in roles[c]:
            if kind == "time":
                ends = [float(nums[(c, s)]) for s in ("First", "Last")]
                # epoch seconds as doubles: rounded to the microsecond (no phantom nanoseconds);
                # a fraction shown only when the data has one (RFC 3339, the outputs' one format)
                frac = any(round(x * 1_000_000) % 1_000_000 for x in ends)
                for s, x in zip(("First", "Last"), ends, strict=True):
                    add(c, kind, s, time_text(x, fraction=frac))
                add(c, kind, "Days", int(nums[(c, "Days")]))
            elif kind == "numeric":
                for s in NUMERIC_STATS:
                    add(c, kind, s, float(nums[(c, s)]))
                if na:
                    add(c, kind, "NA's", na)
            elif kind == "address":
                add(c, kind, "Distinct", int(nums[(c, "Distinct")]))
                if na:
                    add(c, kind, "NA's", na)
            elif kind == "category":
                block = cats[cats["column"] == c].sort_values("ord")
                n_levels = int(block.loc[block["ord"] == -2, "value"].iloc[0])
                levels = block[block["ord"] >= 0]
                shown = levels if n_levels <= MAXSUM else levels.iloc[: MAXSUM - 1]
                for lv, n in zip(shown["stat"], shown["value"], strict=True):
                    add(c, kind, lv, int(n))
                if n_levels > MAXSUM:
                    add(c, kind, "(Other)", nn - int(shown["value"].sum()))
                if na:
                    add(c, kind, "NA's", na)
    df = pd.DataFrame(out, columns=["column", "kind", "stat", "value"])
    df.attrs["approximate"] = approx
    return df


# --- count ---------------------------------------------------------------------------------------


def count_expr(t: ir.Table, by: Sequence[str]) -> ir.Table:
    """Packets per value of ``by`` (NULL kept as its own group), ordered by ``by`` with NULL last.

    Adds ``_icmp4``/``_icmp6`` (packets of each ICMP family in the group) when ``by`` holds an
    ICMP type or code without the protocol, so the caller can name the values.
    """
    by = list(by)
    if not by:
        raise ValueError("count needs at least one column to group by")
    missing = [c for c in by if c not in t.columns]
    if missing:
        raise ValueError(f"no such column: {', '.join(missing)}")
    metrics: dict[str, ir.Scalar] = {"count": t.count()}
    if any(c in by for c in ("icmp_type", "icmp_code")) and "proto" not in by:
        metrics["_icmp4"] = (t.proto == "ICMP").cast("int64").sum()
        metrics["_icmp6"] = (t.proto == "ICMPv6").cast("int64").sum()
    g = t.group_by(by).aggregate(**metrics)
    return g.order_by([ibis.asc(g[c], nulls_first=False) for c in by])


def _icmp_names(df: pd.DataFrame, by: Sequence[str]) -> pd.Series | None:
    if "icmp_type" not in by:
        return None
    types = df["icmp_type"].tolist()
    codes = df["icmp_code"].tolist() if "icmp_code" in by else [None] * len(df)
    if "proto" in by:
        v4 = (df["proto"] == "ICMP").tolist()
        v6 = (df["proto"] == "ICMPv6").tolist()
    else:
        v4 = (df["_icmp4"] > 0).tolist()
        v6 = (df["_icmp6"] > 0).tolist()
    out = []
    for ty, co, a, b in zip(types, codes, v4, v6, strict=True):
        n4 = names.icmp_code_name(ty, co) if a else ""
        n6 = names.icmp_code_name(ty, co, v6=True) if b else ""
        out.append(" / ".join(x for x in (n4, n6) if x))
    return pd.Series(out, index=df.index, dtype="string")


def count(t: ir.Table, by: Sequence[str] | str) -> pd.DataFrame:
    """Counts per ``by`` with NA as a group; a ``name`` column for ICMP types and IP protocols."""
    by = [b.strip() for b in by.split(",")] if isinstance(by, str) else list(by)
    df = count_expr(t, by).execute()
    name = _icmp_names(df, by)
    if name is None and "proto" in by:
        name = df["proto"].map(lambda p: p if p is None else names.protocol_name(p))
        name = name.where(name != df["proto"], "").astype("string")
    df = df.drop(columns=[c for c in ("_icmp4", "_icmp6") if c in df.columns])
    for c in by:
        if df[c].dtype.kind == "f" and t[c].type().is_integer():
            df[c] = df[c].astype("Int64")
    if name is not None:
        df.insert(len(by), "name", name)
    df["count"] = df["count"].astype("int64")
    return df.reset_index(drop=True)


# --- the data at a glance --------------------------------------------------------------------------


def sensors_expr(t: ir.Table) -> ir.Table:
    """Per sensor: ``packets``, distinct ``sources``, ``first``/``last`` packet and ``days`` with
    packets (UTC), busiest first (ties by name)."""
    return t.group_by("host").aggregate(
        packets=t.count(), sources=t.src.nunique(), first=t.time.min(), last=t.time.max(),
        days=t.time.date().nunique(),
    ).order_by([ibis.desc("packets"), "host"])


def overview_expr(t: ir.Table) -> ir.Table:
    """One row: ``packets``, ``sensors``, distinct ``sources``, ``first`` and ``last`` packet."""
    return t.aggregate(packets=t.count(), sensors=t.host.nunique(), sources=t.src.nunique(),
                       first=t.time.min(), last=t.time.max())


def top_pairs_expr(t: ir.Table, cols: Sequence[str], top: int = 10) -> ir.Table:
    """The ``top`` most frequent value pairs of ``cols`` among rows where one of them is set
    (e.g. log prefix and action, interfaces): ``*cols, packets``, most first."""
    cols = list(cols)
    seen = t.filter(ibis.or_(*(t[c].notnull() for c in cols)))
    return seen.group_by(cols).aggregate(packets=seen.count()).order_by(
        [ibis.desc("packets"), *cols]).limit(top)


# --- daily ---------------------------------------------------------------------------------------


def _with_day(t: ir.Table) -> ir.Table:
    """Rows with a wall-clock time (dmesg lines have none), with their UTC ``day``."""
    t = timed(t)
    return t.mutate(day=t.time.date())


def daily_expr(
    t: ir.Table, unique: bool = False, ma: int | None = None, by_host: bool = True
) -> ir.Table:
    """Packets (or distinct sources) per sensor per UTC day: ``day, host, value``.

    Days inside a sensor's span (first to last packet) without packets are 0. ``ma=N``: centred
    N-day moving average like R's ``filter(x, rep(1/N, N), sides = 2)``, full windows only.
    Without ``by_host`` all sensors count together and there is no ``host`` column.
    """
    d = _with_day(t)
    span_keys = ["host"] if by_host else []
    keys = [*span_keys, "day"]
    value = d.src.nunique() if unique else d.count()
    counts = d.group_by(keys).aggregate(value=value)
    series = zero_fill(counts, span_keys, "day", "D")
    series = series.select(*keys, value=series.value.cast("float64" if ma else "int64"))
    if ma:
        series = _moving_average(series, span_keys, ma)
    return series.order_by([*span_keys, "day"])


def _moving_average(series: ir.Table, span_keys: list[str], ma: int) -> ir.Table:
    """Centred ``ma``-row moving average of ``value`` (float64) per ``span_keys``, in ``day``
    order, full windows only (:func:`daily_expr`)."""
    if ma < 1:
        raise ValueError("--ma must be a positive number of days")
    ahead = ma // 2
    behind = ma - 1 - ahead
    win = ibis.window(group_by=span_keys or None, order_by="day", preceding=behind, following=ahead)
    series = series.mutate(_n=series.value.count().over(win), _m=series.value.mean().over(win))
    return series.filter(series._n == ma).select(*span_keys, "day", value=series._m)


def daily(
    t: ir.Table, unique: bool = False, ma: int | None = None, by_host: bool = True
) -> pd.DataFrame:
    """Execute :func:`daily_expr`; ``day`` as a date (``datetime64`` at midnight)."""
    df = daily_expr(t, unique=unique, ma=ma, by_host=by_host).execute()
    df["day"] = pd.to_datetime(df["day"])
    df = df.reset_index(drop=True)
    if df.empty:
        df.attrs["note"] = ("no packet has a wall-clock time (dmesg lines carry only the kernel "
                            "uptime): there are no days to count")
    return df


def moving_average(daily_df: pd.DataFrame, ma: int) -> pd.DataFrame:
    """``daily(t, unique, ma=ma)`` from the already executed ``daily(t, unique)`` (with or
    without ``host``): the same window expression over its few rows (an in-memory table, on
    Ibis' default in-process backend whatever the report's engine), instead of counting the
    packets again."""
    span_keys = ["host"] if "host" in daily_df.columns else []
    keys = [*span_keys, "day"]
    if daily_df.empty:
        return daily_df.assign(value=daily_df["value"].astype("float64"))
    series = ibis.memtable(daily_df[[*keys, "value"]].assign(day=daily_df["day"].dt.date))
    series = series.select(*keys, value=series.value.cast("float64"))
    df = _moving_average(series, span_keys, ma).order_by(keys).execute()
    df["day"] = pd.to_datetime(df["day"])
    return df.reset_index(drop=True)


# --- ports ---------------------------------------------------------------------------------------


def _proto_filter(t: ir.Table, proto: str) -> tuple[ir.Table, bool]:
    """Rows of ``proto`` with a destination port; whether the protocol stays a key ('all')."""
    p = proto.lower()
    with_port = t.filter(t.dpt.notnull())
    if p == "all":
        return with_port, True
    return with_port.filter(with_port.proto == PROTOS.get(p, proto.upper())), False


def ports_expr(
    t: ir.Table, proto: str = "tcp", top: int = 10, by_host: bool = False
) -> ir.Table:
    """Top ``top`` destination ports by packets: ``port, count`` (+ ``proto`` for 'all',
    + ``host`` first with ``by_host``: the top per sensor). Ties: smaller port first."""
    f, keep_proto = _proto_filter(t, proto)
    keys = (["host"] if by_host else []) + (["proto"] if keep_proto else [])
    g = f.group_by([*keys, f.dpt.cast("int32").name("port")]).aggregate(count=f.count())
    order = [ibis.desc(g["count"]), ibis.asc(g.port)]
    if keep_proto:
        order.append(ibis.asc(g.proto))
    hosts = ["host"] if by_host else []
    r = g.mutate(_r=ibis.row_number().over(group_by=hosts or None, order_by=order))
    r = r.filter(r._r < top)
    return r.order_by([*hosts, "_r"]).select(*hosts, *(["proto"] if keep_proto else []),
                                              "port", "count")


def ports_total_expr(t: ir.Table, proto: str = "tcp", by_host: bool = False) -> ir.Table:
    """Packets with a destination port of ``proto`` (the base of the top-N's ``(Other)``)."""
    f, _ = _proto_filter(t, proto)
    if by_host:
        return f.group_by("host").aggregate(total=f.count())
    return f.aggregate(total=f.count())


def ports(t: ir.Table, proto: str = "tcp", top: int = 10, by_host: bool = False) -> pd.DataFrame:
    """Execute :func:`ports_expr`. ``df.attrs['other']`` holds the packets on the other ports
    (``{host: n}`` with ``by_host``), for R's ``(Other)``."""
    df = ports_expr(t, proto, top, by_host).execute().reset_index(drop=True)
    df["count"] = df["count"].astype("int64")
    df["port"] = df["port"].astype("int64")
    tot = ports_total_expr(t, proto, by_host).execute()
    if by_host:
        shown = df.groupby("host")["count"].sum()
        tot = tot.set_index("host")["total"]
        df.attrs["other"] = {h: int(tot[h] - shown.get(h, 0)) for h in tot.index}
    else:
        df.attrs["other"] = int(tot["total"].iloc[0]) - int(df["count"].sum())
    if df.empty:
        what = "no packet has" if proto.lower() == "all" else f"no {_proto_name(proto)} packet has"
        df.attrs["note"] = f"{what} a destination port: there are no ports to rank"
    return df


def _proto_name(proto: str) -> str:
    return PROTOS.get(proto.lower(), proto.upper())


def port_host_share_expr(t: ir.Table, ports: Sequence[int], proto: str = "tcp") -> ir.Table:
    """Per sensor and one of ``ports`` of ``proto``: ``count`` (packets) and ``share`` of the
    sensor's packets to those ports (the sensor x port heat map), ordered by host and port."""
    f, keep_proto = _proto_filter(t, proto)
    if keep_proto:
        raise ValueError("one protocol at a time: tcp or udp")
    f = f.filter(f.dpt.isin([int(p) for p in ports]))
    g = f.group_by(["host", "dpt"]).aggregate(count=f.count())
    g = g.mutate(share=g["count"] / g["count"].sum().over(group_by=g.host))
    return g.order_by(["host", "dpt"])


# --- port sources (part 2) -----------------------------------------------------------------------


def port_day_sources_expr(t: ir.Table) -> ir.Table:
    """Part 2's metric for every (``proto``, ``port``): per UTC ``day``, the mean over the sensors
    that saw the port that day (``sensors``) of the number of distinct sources that sent the
    sensor a packet to the port that day (``value``; ``sources``: their sum, the distinct
    (sensor, source) pairs of the port that day). Rows with a time and a port only."""
    d = _with_day(t.filter(t.dpt.notnull()))
    per_host = d.group_by(["proto", d.dpt.cast("int32").name("port"), "day", "host"]).aggregate(
        sources=d.src.nunique())
    return per_host.group_by(["proto", "port", "day"]).aggregate(
        value=per_host.sources.mean(), sensors=per_host.count(), sources=per_host.sources.sum())


def port_sources_expr(t: ir.Table, proto: str = "tcp", top: int = 10) -> ir.Table:
    """Part 2's metric (:func:`port_day_sources_expr`) for the top ``top`` ports of one protocol:
    ``rank, port, day, value``. The ports are ranked by the number of distinct (day, sensor,
    source, port) tuples, ties by port (R's ``summary(factor())`` order).
    """
    f, keep_proto = _proto_filter(t, proto)
    if keep_proto:
        raise ValueError("port-sources counts one protocol at a time: --proto tcp or udp")
    m = port_day_sources_expr(f)
    ranks = m.group_by("port").aggregate(tuples=m.sources.sum())
    ranks = ranks.mutate(
        rank=ibis.row_number().over(order_by=[ibis.desc(ranks.tuples), ibis.asc(ranks.port)])
    )
    ranks = ranks.filter(ranks["rank"] < top).select("port", "rank")
    j = m.join(ranks, "port")
    return j.select("rank", "port", "day", "value").order_by(["rank", "day"])


def port_sources(t: ir.Table, proto: str = "tcp", top: int = 10) -> pd.DataFrame:
    """Execute :func:`port_sources_expr`: ``port, day, value`` ordered by port rank then day.

    ``df.attrs['ports']`` lists the ports in rank order (for plots' factor levels)."""
    df = port_sources_expr(t, proto, top).execute()
    df["day"] = pd.to_datetime(df["day"])
    df["port"] = df["port"].astype("int64")
    order = df.drop_duplicates("rank").sort_values("rank")["port"].tolist()
    df = df.drop(columns="rank").reset_index(drop=True)
    df.attrs["ports"] = order
    if df.empty:
        df.attrs["note"] = (f"no {_proto_name(proto)} packet with a destination port has a "
                            "wall-clock time: there are no daily sources to average")
    return df
