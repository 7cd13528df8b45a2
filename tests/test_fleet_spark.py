"""Enrichment, fleet, scans and their report sections give the same results on Spark as on
DuckDB (a few thousand packets: marx rows plus constructed IPv6, TCP-flag and sub-second rows).

Slow: starts Spark ``local[2]`` (the session the other Spark tests use).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from conftest import needs_spark
from honeyscope import schema
from honeyscope.analyse import engine, enrich, events, fleet, scans, services

pytestmark = [
    pytest.mark.slow,
    needs_spark,
]


def _constructed() -> pa.Table:
    """IPv6 sources (two in one /64), TCP flags of every scan type, sub-second stamps."""
    t0 = datetime(2013, 3, 10, tzinfo=UTC)
    flags = ["SYN", "ACK SYN", "RST", "FIN", "", "URG PSH FIN", "ACK", "SYN FIN", None]
    rows = []
    for i in range(300):
        v6 = i % 3 == 0
        rows.append({
            "time": t0 + timedelta(seconds=i * 37.25),
            "host": f"v{i % 4}",
            "src": (f"2001:4860:4860::{i % 5 + 1:x}" if v6 else f"203.0.113.{i % 7}"),
            "dst": "2001:db8::99" if v6 else f"198.51.100.{i % 11}",
            "family": 6 if v6 else 4,
            "proto": "TCP" if i % 5 else ("ICMPv6" if v6 else "ICMP"),
            "dpt": 1000 + i % 40 if i % 5 else None,
            "tcp_flags": flags[i % len(flags)] if i % 5 else None,
            "icmp_type": None if i % 5 else (128 if v6 else 8),
        })
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    return schema.conform(pa.table({k: pa.array(v, schema.SCHEMA.field(k).type)
                                    for k, v in cols.items()}))


@pytest.fixture(scope="module")
def small(marx_arrow) -> pa.Table:
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(marx_arrow.num_rows, 2_000, replace=False))
    busy = marx_arrow.filter(pc.equal(marx_arrow.column("src"), "183.91.14.60")).slice(0, 400)
    return pa.concat_tables([marx_arrow.take(idx), busy, _constructed()])


@pytest.fixture(scope="module")
def engines(small):
    from honeyscope.analyse import spark as hs

    duck = engine.packets_from_arrow(engine.connect(), small, name="fleet_spark_small")
    sp = hs.packets_from_arrow(hs.connect("local[2]"), small, name="fleet_spark_small")
    return duck, sp


_EV = events.EventOptions(flood_min_packets=2, flood_min_share=0.01, sweep_min_packets=2,
                          sweep_min_ports=2, campaign_min_sources=1, campaign_ratio=1.0,
                          baseline_days=1, backscatter_min_packets=1)


def _geo(t):
    return enrich.enrich_addresses(t._find_backend(), t, with_net=True)


CASES = {
    "enrich_addresses": _geo,
    "sources": enrich.sources,
    "source_prefixes": fleet.source_prefixes,
    "fair_by_sensor": fleet.fair_by_sensor,
    "fair_daily": fleet.fair_daily,
    "fair_hourly": lambda t: fleet.fair_daily(t, "hour"),
    "compare_sensors": fleet.compare_sensors,
    "source_profiles": fleet.source_profiles,
    "source_timeline": lambda t: fleet.source_timeline(t, ["2001:4860:4860::1", "183.91.14.60"]),
    "scan_summary": scans.scan_summary,
    "scans": scans.scans,
    "type_counts": scans.type_counts,
    "with_service": lambda t: services.with_service(t.select("proto", "dpt")),
    # events (analyse/events.py): every kind's expression, with thresholds the small table meets
    "event_floods": lambda t: events.floods(t, _EV),
    "event_sweeps": lambda t: events.sweeps(t, _EV),
    "event_campaigns": lambda t: events.campaigns(t, _EV),
    "event_backscatter": lambda t: events.backscatter(t, _EV),
}


def test_analyses_same_on_spark(engines):
    from honeyscope.analyse import spark as hs

    duck, sp = engines
    problems = {}
    for name, fn in CASES.items():
        diff = hs.same_result(fn, duck, sp)
        if diff:
            problems[name] = diff
    assert problems == {}
    # the constructed rows were really there: IPv6 prefixes and flag-based scan types
    p = fleet.source_prefixes(sp).execute().set_index("addr")
    assert p.loc["2001:4860:4860::1", "src_net"] == "2001:4860:4860::/64"
    assert int(p.loc["2001:4860:4860::1", "src_asn"]) == 15169
    types = set(scans.type_counts(sp).execute().scan_type)
    assert {"SYN", "SYN-ACK", "RST", "FIN", "NULL", "XMAS", "ACK", "SYN-FIN", "PING"} <= types


def test_sections_same_on_spark(engines):
    from honeyscope.render.sections import ReportContext
    from honeyscope.render.sections.fleet import build

    out = []
    for t in engines:
        ctx = ReportContext(packets=t, con=t._find_backend())
        secs = build(ctx)
        # chart images are drawn from the same numbers but are not byte-stable across runs
        out.append([(s.id, re.sub(r"<img [^>]*>", "<img>", s.body), s.findings) for s in secs])
    assert out[0] == out[1]
    found = [f for _, _, fs in out[1] for f in fs]
    assert any(f.startswith("The busiest network is AS") for f in found)
    assert any("backscatter" in f for f in found)
