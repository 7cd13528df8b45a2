"""The store's layout lets a query for one sensor or one period read only part of the data.

Files hold one ingest block (one day for the fleet generator) under ``packets/YYYY-MM/``, sorted
by (host, time), in 128k-row groups with min/max statistics: DuckDB skips the row groups whose
host or time range cannot match. Measured with DuckDB's own profiler (row groups and bytes).
"""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest

import honeyscope.schema  # noqa: F401  (first: store.store alone hits honeyscope.__getattr__)
from honeyscope.store.store import ROW_GROUP, Store
from honeyscope.synth import fleet

SPEC = fleet.FleetSpec(sensors=8, rows=900_000, seed=5, days=3, start=date(2024, 3, 30))
pytestmark = pytest.mark.slow  # a 900k-row store for its row groups: more than 2 s (CI runs it)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    path = tmp_path_factory.mktemp("prune") / "store"
    fleet.write_store(SPEC, path)
    return Store(path)


def _scan(store: Store, where: str, tmp_path) -> dict:
    prof = tmp_path / "profile.json"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET enable_profiling = 'json'; SET profiling_mode = 'detailed'; "
                f"SET profiling_output = '{prof}'")
    files = ",".join(f"'{f}'" for f in store.packet_files())
    rows = con.execute(f"SELECT count(*) FROM read_parquet([{files}]) WHERE {where}").fetchall()
    con.close()

    def scans(node):
        if node.get("type") == "TABLE_SCAN":
            yield node
        for c in node.get("children", []):
            yield from scans(c)

    sc = [x for op in json.loads(prof.read_text())["operator"] for x in scans(op)]
    return {"rows": rows[0][0],
            "groups": sum(x["row_groups_scanned"] for x in sc),
            "total": sum(x["total_row_groups_to_scan"] for x in sc)}


def test_layout(store):
    files = store.packet_files()
    # one file per generated day, partitioned by month: the 30th/31st of March, 1st of April
    assert sorted({f.parent.name for f in files}) == ["2024-03", "2024-04"]
    assert len(files) == 3
    import pyarrow.parquet as pq

    md = pq.ParquetFile(files[0]).metadata
    assert md.row_group(0).num_rows == ROW_GROUP and md.num_row_groups == 3
    assert md.row_group(0).column(md.schema.names.index("host")).statistics.has_min_max


def test_one_sensor_reads_a_fraction_of_the_row_groups(store, tmp_path):
    host = store.table(["host"]).column("host")[0].as_py()  # the first in sort order
    all_ = _scan(store, "host IS NOT NULL", tmp_path)
    one = _scan(store, f"host = '{host}'", tmp_path)
    assert all_["rows"] == 900_000 and all_["groups"] == all_["total"] == 9
    assert one["rows"] == store.ledger()["hosts"][host]
    assert one["groups"] <= 6 < all_["groups"]  # at most 2 of each day's 3 groups


def test_one_period_reads_only_its_files(store, tmp_path):
    all_ = _scan(store, "time IS NOT NULL", tmp_path)
    day = _scan(store, "time >= TIMESTAMPTZ '2024-04-01' AND time < TIMESTAMPTZ '2024-04-02'",
                tmp_path)
    assert day["rows"] == int(fleet.plan(SPEC).day_rows[2])
    assert day["groups"] == 3 and all_["groups"] == 9
