"""A real Spark standalone cluster (master + worker on 127.0.0.1) gives DuckDB's results.

The Spark driver runs in a child process, so its SparkContext never meets the ``local[2]`` one of
test_spark.py in the same pytest worker. The cluster is always stopped (finalizer).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from conftest import needs_spark
from honeyscope.analyse import engine, explore
from honeyscope.analyse import spark as hs_spark
from honeyscope.ops.spark_cluster import StandaloneCluster

pytestmark = [
    pytest.mark.slow,
    needs_spark,
]

#: name -> (explore function, keyword arguments), run on the cluster and on DuckDB
CALLS = {
    "daily": ("daily", {}),
    "daily_unique": ("daily", {"unique": True}),
    "ports": ("ports", {}),
    "port_sources": ("port_sources", {}),
    "icmp": ("count", {"by": ["icmp_type"]}),
}

DRIVER = """
import json, sys
from honeyscope.analyse import explore
from honeyscope.analyse import spark as hs_spark
url, parquet, out = sys.argv[1:4]
con = hs_spark.connect(url, conf={"spark.executor.memory": "1g", "spark.cores.max": "2"})
assert con._session.sparkContext.master == url
t = hs_spark.packets_from_files(con, [parquet])
calls = json.loads(sys.argv[4])
for name, (fn, kw) in calls.items():
    getattr(explore, fn)(t, **kw).to_pickle(f"{out}/{name}.pkl")
print(json.dumps({"app": con._session.sparkContext.applicationId}))
con._session.stop()
"""


@pytest.fixture(scope="module")
def cluster(request):
    c = StandaloneCluster(cores=2, memory="2g", timeout=120)
    request.addfinalizer(c.stop)  # always, even when start fails halfway
    c.start()
    return c


def test_cluster_results_identical_to_duckdb(cluster, marx_parquet, tmp_path):
    import json

    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(DRIVER), cluster.url, str(marx_parquet),
         str(tmp_path), json.dumps(CALLS)],
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    app = json.loads(r.stdout.strip().splitlines()[-1])["app"]
    assert app.startswith("app-")  # a standalone-cluster application, not local-*
    st = cluster._status()
    assert st is not None and st["aliveworkers"] == 1
    assert any(a["id"] == app for a in st.get("completedapps", []) + st.get("activeapps", []))

    t = engine.packets_from_files(engine.connect(), [marx_parquet])
    for name, (fn, kw) in CALLS.items():
        want = getattr(explore, fn)(t, **kw)
        got = pd.read_pickle(tmp_path / f"{name}.pkl")
        assert len(got) > 0
        assert hs_spark.compare_frames(want, got) == [], name


def test_cluster_stops(cluster):
    c = StandaloneCluster(cores=1, memory="1g", timeout=120)
    try:
        c.start()
        assert c._status()["aliveworkers"] == 1
    finally:
        c.stop()
    assert all(p.poll() is not None for p in c.procs) and c.procs == []
    assert c._status() is None
