"""The offline geo database shipped with the package (``honeyscope/data/geo/``), read: its
metadata and its range tables. At the bottom of the layers: the ingest records the database's
name and date in the store, the analyses look sources up in it
(:mod:`honeyscope.analyse.enrich`)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def geo_dir() -> Path:
    return Path(str(resources.files("honeyscope") / "data" / "geo"))


@cache
def geo_meta() -> dict[str, Any]:
    """Name, licence, attribution and build date of the shipped database (``meta.json``)."""
    return json.loads((geo_dir() / "meta.json").read_text())


@cache
def range_table(family: int = 4) -> pa.Table:
    """The raw range table of one address family (``start_int``, ``end_int``, ``cc``, ``asn``,
    ``as_name``, ``flags``), sorted by ``start_int``, ranges disjoint."""
    return pq.read_table(geo_dir() / f"ipv{family}.parquet")


@cache
def countries() -> pa.Table:
    return pq.read_table(geo_dir() / "countries.parquet")
