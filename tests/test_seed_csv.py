import gzip

from conftest import DATA, bundled
from honeyscope.ingest.seed_csv import read_seed_csv, sniff


def test_marx_counts(marx_arrow):
    t = marx_arrow
    assert t.num_rows == 451_581
    hosts = dict(zip(*[c.to_pylist() for c in t.group_by("host").aggregate([("host", "count")]).columns]))
    assert hosts["groucho-tokyo"] == 126_189
    assert hosts["groucho-oregon"] == 94_076
    assert t.column("src").null_count == 0


def test_geo_and_kaggle_agree_with_seed():
    seed = read_seed_csv(gzip.open(bundled("marx.csv.gz")).read(), source="a").rows
    geo = read_seed_csv(gzip.open(bundled("marx-geo.csv.gz")).read(), source="b").rows
    assert geo.num_rows == seed.num_rows
    assert geo.column("time") == seed.column("time")
    assert geo.column("geo_cc").null_count == 3_595
    head = (DATA / "kaggle-marx-geo-head.csv").read_bytes()
    assert sniff(head) == "marx-geo"
    k = read_seed_csv(head, source="k").rows
    assert k.num_rows == head.count(b"\r") - 1
    # minutes only, from m/d/yy H:MM; rows line up with the seed
    assert k.column("src_int").to_pylist() == seed.column("src_int").to_pylist()[: k.num_rows]
    assert str(k.column("time")[0].as_py()) == "2013-03-03 21:53:00+00:00"


def test_bad_csv_rows_are_rejected_with_reason():
    data = (
        b"datetime,host,src,proto,type,spt,dpt\n"
        b"2013-03-03 21:53:59,h1,1032051418,TCP,,6000,1433\n"
        b"not a date,h1,1,TCP,,1,2\n"
        b"2013-03-03 21:53:59,h1,99999999999,TCP,,1,2\n"
        b"2013-03-03 21:53:59,h1,5,TCP,,1,70000\n"
        b"2013-03-03 21:53:59,h1,5,GRE,,,\n"
    )
    r = read_seed_csv(data, source="x")
    assert r.rows.num_rows == 1
    assert r.rejects.column("reason").to_pylist() == [
        "bad timestamp", "bad address", "port out of range", "unknown protocol"]
    assert r.rejects.column("line").to_pylist() == [3, 4, 5, 6]
