"""Offline enrichment: shipped libloc range tables, bucketed range join, services."""

from __future__ import annotations

import ibis
import numpy as np
import pyarrow as pa
import pytest

from honeyscope.analyse import engine, enrich, services


@pytest.fixture()
def con():
    return engine.connect()


def test_meta_names_database_and_build_date():
    m = enrich.geo_meta()
    assert m["license"] == "CC BY-SA 4.0"
    assert m["built"] == "2022-10-29T05:59:54Z"
    assert "IPFire" in m["attribution"]
    assert m["ranges_ipv4"] == enrich.range_table(4).num_rows == 431_087


def test_ranges_sorted_and_disjoint():
    t = enrich.range_table(4)
    s = t.column("start_int").to_numpy().astype(np.int64)
    e = t.column("end_int").to_numpy().astype(np.int64)
    assert (e >= s).all()
    assert (s[1:] > e[:-1]).all()


def test_bucketed_ranges_cover_every_bucket_once():
    t = pa.table({
        "start_int": pa.array([0, 70_000, 200_000], pa.uint32()),
        "end_int": pa.array([65_535, 140_000, 200_001], pa.uint32()),
        "cc": ["AA", "BB", "CC"], "asn": pa.array([1, 2, 3], pa.uint32()),
        "as_name": ["a", "b", "c"], "flags": pa.array([0, 0, 0], pa.uint8()),
    })
    b = enrich.bucketed_ranges(t, 16)
    assert b.column("bucket").to_pylist() == [0, 1, 2, 3]
    assert b.column("cc").to_pylist() == ["AA", "BB", "BB", "CC"]


def test_known_addresses(con):
    p = ibis.memtable(pa.table({"src": [
        "8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "10.0.0.1", "not-an-ip", None,
    ]}))
    df = con.execute(enrich.enrich_addresses(con, p)).set_index("addr")
    assert df.loc["8.8.8.8", "cc"] == "US"
    assert int(df.loc["8.8.8.8", "asn"]) == 15169
    assert df.loc["8.8.8.8", "as_name"] == "GOOGLE"
    assert df.loc["8.8.8.8", "country"] == "United States of America"
    assert int(df.loc["1.1.1.1", "asn"]) == 13335
    assert enrich.flag_names(int(df.loc["1.1.1.1", "geo_flags"])) == "anycast"
    assert int(df.loc["2001:4860:4860::8888", "asn"]) == 15169
    assert df.loc["10.0.0.1"].isna()[["cc", "asn"]].all()  # private: in no range
    assert len(df) == 4  # invalid text and null are not addresses


def test_range_lookup_matches_searchsorted(con):
    """The engine's bucketed join gives what a binary search over the ranges gives."""
    rng = np.random.default_rng(7)
    keys = np.unique(rng.integers(0, 2**32, 20_000))
    got = enrich.enrich_keys(con, keys).to_pandas().set_index("key").sort_index()
    t = enrich.range_table(4)
    s = t.column("start_int").to_numpy().astype(np.int64)
    e = t.column("end_int").to_numpy().astype(np.int64)
    i = np.searchsorted(s, keys, side="right") - 1
    inside = (i >= 0) & (keys <= e[np.maximum(i, 0)])
    asn = t.column("asn").to_numpy(zero_copy_only=False)
    expect = np.where(inside, asn[np.maximum(i, 0)], np.nan).astype(float)
    assert len(got) == len(keys)
    np.testing.assert_array_equal(got["asn"].to_numpy(dtype=float), expect)


@pytest.mark.slow
def test_million_addresses(con):  # its speed is a benchmark's (bench_scale), not a test's
    keys = np.random.default_rng(1).integers(0, 2**32, 1_000_000)
    out = enrich.enrich_keys(con, keys)
    assert out.num_rows == len(np.unique(keys))


def test_sources_on_marx(marx, marx_arrow):
    s = enrich.sources(marx).execute()
    assert len(s) == 69_602
    assert s.packets.sum() == 451_581
    # the sources without a country: those a binary search over the shipped ranges places in no
    # range, or in one without a country (a few dozen of 69,602)
    keys = np.unique(marx_arrow.column("src_int").to_numpy().astype(np.int64))
    t = enrich.range_table(4)
    lo = t.column("start_int").to_numpy().astype(np.int64)
    hi = t.column("end_int").to_numpy().astype(np.int64)
    i = np.searchsorted(lo, keys, side="right") - 1
    inside = (i >= 0) & (keys <= hi[np.maximum(i, 0)])
    no_cc = ~inside | t.column("cc").is_null().to_numpy(zero_copy_only=False)[np.maximum(i, 0)]
    assert 0 < s.cc.isna().sum() == no_cc.sum() < 100
    top = s.groupby("cc").packets.sum().idxmax()
    assert top == "CN"


def test_enrich_adds_columns(con):
    p = ibis.memtable(pa.table({"src": ["8.8.8.8", "8.8.8.8", "9.9.9.9"], "n": [1, 2, 3]}))
    df = con.execute(enrich.enrich(p)).sort_values("n")
    assert df.src_asn.tolist() == [15169, 15169, 19281]


def test_services():
    assert services.service_name(22) == "ssh"
    assert services.service_name(53, "udp") == "domain"
    assert services.service_name(1433) == "ms-sql-s"
    assert services.service_name(65000) is None
    t = ibis.memtable(pa.table({"proto": ["TCP", "UDP", "TCP"], "dpt": pa.array([23, 53, 1], pa.uint16())}))
    df = engine.connect().execute(services.with_service(t)).sort_values("dpt")
    assert df.service.tolist() == ["tcpmux", "telnet", "domain"]


def test_parse_services_first_name_wins():
    rows = services.parse_services("a 1/tcp\nb 1/tcp # dup\n# c 2/tcp\nd 3/udp x y\n")
    assert rows == [("TCP", 1, "a"), ("UDP", 3, "d")]


def test_v6_keys_match_ipaddress():
    addrs = ["2001:db8::1", "2001:4860:4860::8888", "fe80::1%eth0", "::ffff:1.2.3.4", "nope",
             "2001:db8:0:1:ffff::"]
    ok, key, pre = enrich.v6_keys(addrs)
    assert ok.tolist() == [True, True, True, True, False, True]
    for a, good, k, p in zip(addrs, ok, key, pre, strict=True):
        if good:
            assert int(k) == enrich.v6_key(a)
            import ipaddress

            assert p == str(ipaddress.ip_network(f"{a.split('%')[0]}/64", strict=False))
    assert pre[0] == "2001:db8::/64"
    assert pre[5] == "2001:db8:0:1::/64"
    assert pre[4] is None


def test_enrich_addresses_with_net(con):
    p = ibis.memtable(pa.table({"src": ["8.8.8.8", "8.8.4.4", "2001:4860:4860::8888", "x"]}))
    df = con.execute(enrich.enrich_addresses(con, p, with_net=True)).set_index("addr")
    assert df.net.to_dict() == {"8.8.8.8": "8.8.8.0/24", "8.8.4.4": "8.8.4.0/24",
                                "2001:4860:4860::8888": "2001:4860:4860::/64"}
    assert df.loc["2001:4860:4860::8888", "cc"] == "US"
    # without with_net: the same rows and geo, no net column
    plain = con.execute(enrich.enrich_addresses(con, p)).set_index("addr").sort_index()
    assert "net" not in plain.columns
    assert plain.asn.tolist() == df.sort_index().asn.tolist()


def test_sources_reuses_geo_and_input_mode(con):
    """``sources(geo=...)`` gives what ``sources()`` gives; the input's country is the most
    frequent one per source, ties to the smallest code, nulls ignored."""
    from datetime import UTC, datetime

    from honeyscope import schema

    rows = {
        "time": pa.array([datetime(2024, 1, 1, tzinfo=UTC)] * 7, schema.TIME_TYPE),
        "host": ["a", "b", "a", "a", "b", "a", "a"],
        "src": ["8.8.8.8", "8.8.8.8", "8.8.8.8", "9.9.9.9", "9.9.9.9", "1.1.1.1", "1.1.1.1"],
        "geo_cc": ["US", "DE", "US", None, None, "ZZ", "AU"],
    }
    t = con.create_table("src_mode", schema.conform(pa.table(rows)), overwrite=True)
    a = enrich.sources(t).execute().set_index("addr").sort_index()
    geo = enrich.source_geo(t).cache()
    b = enrich.sources(t, geo=geo).execute().set_index("addr").sort_index()
    assert a.equals(b)
    assert a.input_cc.fillna("-").to_dict() == {"1.1.1.1": "AU", "8.8.8.8": "US", "9.9.9.9": "-"}
    assert a.packets.to_dict() == {"1.1.1.1": 2, "8.8.8.8": 3, "9.9.9.9": 2}
    assert a.sensors.to_dict() == {"1.1.1.1": 1, "8.8.8.8": 2, "9.9.9.9": 2}
    assert a.loc["8.8.8.8", "cc"] == "US"


def test_source_origin_prefers_the_inputs_country(con):
    """The input's own (contemporaneous) country wins over the database's; a source without
    one keeps the database's; ASNs come from the database."""
    from datetime import UTC, datetime

    from honeyscope import schema

    rows = {
        "time": pa.array([datetime(2024, 1, 1, tzinfo=UTC)] * 5, schema.TIME_TYPE),
        "host": ["a"] * 5,
        "src": ["8.8.8.8", "8.8.8.8", "8.8.8.8", "9.9.9.9", "10.1.2.3"],
        "geo_cc": ["DE", "DE", "FR", None, None],
        "geo_country": ["Germany", "Germany", "France", None, None],
    }
    t = con.create_table("origin_pref", schema.conform(pa.table(rows)), overwrite=True)
    o = enrich.source_origin(t).execute().set_index("addr")
    assert (o.loc["8.8.8.8", "cc"], o.loc["8.8.8.8", "country"], o.loc["8.8.8.8", "cc_from"]) == (
        "DE", "Germany", "input")
    assert o.loc["8.8.8.8", "asn"] == 15169  # Google's, from the database
    assert (o.loc["9.9.9.9", "cc_from"], o.loc["9.9.9.9", "asn"]) == ("database", 19281)
    assert o.loc["10.1.2.3"].isna()[["cc", "cc_from", "asn"]].all()  # private: unknown


def test_origin_rollups_in_ibis_count_by_hand():
    """Countries and ASNs by packets, from source rows written here (one function for the
    report's origin section and ``enrich --by country|asn``)."""
    import ibis
    import pandas as pd

    s = ibis.memtable(pd.DataFrame({
        "addr": ["a", "b", "c", "d", "e", "f"],
        "packets": [10, 20, 30, 40, 5, 95],
        "cc": ["DE", "DE", "FR", "FR", None, "FR"],
        "country": ["Germany", "Germany", "France", "France", None, "France"],
        "input_cc": [None, "", None, "DE", None, None],
        "input_country": [None, None, None, "Germany", None, None],
        "asn": [1, 1, 1, 2, None, None],
        "as_name": ["ONE", "ONE", "ONE", "", None, None],
    }).astype({"asn": "Int64"}))
    con = engine.connect()
    cc = con.execute(enrich.origin_rollup(s, "country"))
    # FR: c 30 + f 95 (d's input says DE); DE: a 10 + b 20 + d 40; e has no country: not ranked
    assert cc[["cc", "country", "sources", "packets"]].values.tolist() == [
        ["FR", "France", 2, 125], ["DE", "Germany", 3, 70]]
    assert cc.share.tolist() == pytest.approx([125 / 200, 70 / 200])
    asn = con.execute(enrich.origin_rollup(s, "asn"))
    # AS1: a, b (DE), c (FR) -> DE, its sources' most common database country; AS2 has no name
    assert asn[["asn", "as_name", "sources", "packets", "cc"]].values.tolist() == [
        [1, "ONE", 3, 60, "DE"], [2, enrich.UNKNOWN, 1, 40, "FR"]]
    unk = con.execute(enrich.origin_unknown(s)).iloc[0]
    assert (unk.no_cc_sources, unk.no_cc_packets) == (1, 5)
    assert (unk.no_asn_sources, unk.no_asn_packets) == (2, 100)
    assert con.execute(enrich.origin_rollup(s, "source")).addr.tolist()[:2] == ["f", "d"]
    with pytest.raises(ValueError, match="unknown rollup"):
        enrich.origin_rollup(s, "city")
