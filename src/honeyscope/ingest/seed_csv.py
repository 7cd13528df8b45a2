"""The marx data set's CSV layouts, recognised by their header, read vectorised with polars.

* ``marx``: ``datetime,host,src,proto,type,spt,dpt`` (src as an unsigned integer), as published with
  "Inspecting Internet Traffic: Part 1".
* ``marx-geo``: the same seven columns then ``srcstr,cc,country,locale,localeabbr,postalcode,
  latitude,longitude``; also the Kaggle variant with CR-only line endings, ``m/d/yy H:MM`` dates and a
  trailing empty column.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from honeyscope import schema

SEED_HEADER = ("datetime", "host", "src", "proto", "type", "spt", "dpt")
GEO_EXTRA = (
    "srcstr", "cc", "country", "locale", "localeabbr", "postalcode", "latitude", "longitude",
)


def sniff(head: bytes) -> str | None:
    """Name of the CSV layout whose header ``head`` starts with, or None."""
    first = head.replace(b"\r", b"\n").split(b"\n", 1)[0].decode("utf-8", "replace")
    cols = tuple(c.strip().strip('"').lower() for c in first.split(","))
    if cols[:7] != SEED_HEADER:
        return None
    if cols[7:15] == GEO_EXTRA:
        return "marx-geo"
    return "marx"


@dataclass
class CsvResult:
    rows: pa.Table  # canonical schema
    rejects: pa.Table  # REJECT_SCHEMA
    lines: int  # data lines read (header excluded)


def read_seed_csv(
    data: bytes, *, source: str, tz: str = "UTC", sensor: str | None = None, first_line: int = 2
) -> CsvResult:
    """Parse a whole marx / marx-geo CSV (already decompressed, header first) into canonical rows
    and rejects. ``first_line`` is the line number of the first data row (2: after the header)."""
    if b"\n" not in data and b"\r" in data:
        data = data.replace(b"\r", b"\n")  # Kaggle's CR-only line endings
    elif b"\r\n" in data:
        data = data.replace(b"\r\n", b"\n")
    raw = pl.read_csv(
        io.BytesIO(data),
        infer_schema=False,
        has_header=True,
        truncate_ragged_lines=True,
        quote_char='"',
    )
    raw = raw.rename({c: c.strip().lower() for c in raw.columns})
    raw = raw.with_row_index("line", offset=first_line)
    n = raw.height
    geo = "srcstr" in raw.columns

    s = pl.col
    # Exact formats, no cache: nearly every timestamp is distinct, so polars' default cache of
    # parsed strings costs more than it saves. The Kaggle layout's short format is tried only
    # when some non-empty stamp does not parse as the seed's full one.
    dt_text = s("datetime").str.strip_chars()
    full = dt_text.str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=False, cache=False)
    short = dt_text.str.to_datetime("%m/%d/%y %H:%M", time_unit="us", strict=False, cache=False)
    unparsed = raw.select((full.is_null() & (dt_text.str.len_bytes() > 0)).any()).item()
    t = pl.coalesce(full, short) if unparsed else full
    t = t.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    t = t.dt.convert_time_zone("UTC")

    def u(name: str) -> pl.Expr:
        return s(name).str.strip_chars().cast(pl.Int64, strict=False)

    src_i = u("src")
    exprs = [
        t.alias("time"),
        # --sensor fills a missing host, as for log lines; it never renames a sensor
        pl.when(s("host").str.strip_chars() != "").then(s("host").str.strip_chars())
        .otherwise(pl.lit(sensor)).alias("host"),
        src_i.alias("_src_i"),
        s("proto").str.strip_chars().str.to_uppercase().alias("proto"),
        u("type").alias("_type"),
        u("spt").alias("_spt"),
        u("dpt").alias("_dpt"),
        s("line").cast(pl.UInt32),
    ]
    if geo:
        exprs += [
            pl.when(s("cc").str.strip_chars() != "").then(s("cc").str.strip_chars()).alias("geo_cc"),
            pl.when(s("country").str.strip_chars() != "")
            .then(s("country").str.strip_chars())
            .alias("geo_country"),
            pl.when(s("locale").str.strip_chars() != "")
            .then(s("locale").str.strip_chars())
            .alias("geo_locale"),
            s("latitude").str.strip_chars().cast(pl.Float64, strict=False).alias("geo_lat"),
            s("longitude").str.strip_chars().cast(pl.Float64, strict=False).alias("geo_lon"),
        ]
    df = raw.select(exprs)

    reason = (
        pl.when(s("time").is_null())
        .then(pl.lit("bad timestamp"))
        .when(s("host").is_null() | (s("host") == ""))
        .then(pl.lit("missing host"))
        .when(s("_src_i").is_null() | (s("_src_i") < 0) | (s("_src_i") > 0xFFFFFFFF))
        .then(pl.lit("bad address"))
        .when(~s("proto").is_in(["TCP", "UDP", "ICMP"]))
        .then(pl.lit("unknown protocol"))
        .when((s("_spt") > 65535) | (s("_dpt") > 65535) | (s("_spt") < 0) | (s("_dpt") < 0))
        .then(pl.lit("port out of range"))
        .when((s("_type") > 255) | (s("_type") < 0))
        .then(pl.lit("bad ICMP type"))
        .otherwise(pl.lit(None, pl.String))
    )
    df = df.with_columns(reason.alias("_reason"))
    bad = df.filter(s("_reason").is_not_null())
    good = df.filter(s("_reason").is_null())

    src_u = s("_src_i").cast(pl.UInt32)
    dotted = pl.concat_str(
        [(src_u // (1 << k)) % 256 for k in (24, 16, 8, 0)], separator="."
    )
    good = good.with_columns(
        dotted.alias("src"),
        src_u.alias("src_int"),
        pl.lit(4, pl.UInt8).alias("family"),
        s("_spt").cast(pl.UInt16).alias("spt"),
        s("_dpt").cast(pl.UInt16).alias("dpt"),
        s("_type").cast(pl.UInt8).alias("icmp_type"),
        pl.lit(source).alias("source"),
    ).drop("_src_i", "_type", "_spt", "_dpt", "_reason")
    rows = schema.conform(good.to_arrow())

    bad_lines = bad.get_column("line").to_list()
    raw_text = raw.head(0) if not bad_lines else raw.filter(pl.col("line").is_in(bad_lines))
    raw_text = raw_text.select(
        pl.concat_str([pl.col(c).fill_null("") for c in raw.columns if c != "line"], separator=",")
    )
    rejects = pa.table(
        {
            "source": pa.array([source] * bad.height, pa.string()),
            "line": pa.array(bad_lines, pa.uint32()),
            "reason": bad.get_column("_reason").to_arrow().cast(pa.string()),
            "text": raw_text.to_series().to_arrow().cast(pa.string()),
            "host": bad.get_column("host").to_arrow().cast(pa.string()),
            "time": bad.get_column("time").to_arrow().cast(schema.TIME_TYPE),
        },
        schema=schema.REJECT_SCHEMA,
    )
    return CsvResult(rows=rows, rejects=rejects, lines=n)
