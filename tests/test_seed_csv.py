import gzip

import pytest

from conftest import DATA, bundled
from honeyscope.ingest.seed_csv import read_seed_csv, sniff


def test_marx_counts(marx_arrow):
    t = marx_arrow
    assert t.num_rows == 451_581
    hosts = dict(zip(*[c.to_pylist() for c in t.group_by("host").aggregate([("host", "count")]).columns]))
    assert hosts["groucho-tokyo"] == 126_189
    assert hosts["groucho-oregon"] == 94_076
    assert t.column("src").null_count == 0


@pytest.mark.slow  # more than 3 s on 2 cores (CI runs it)
def test_geo_and_kaggle_agree_with_seed():
    seed = read_seed_csv(gzip.open(bundled("marx.csv.gz")).read(), source="a").rows
    geo = read_seed_csv(gzip.open(bundled("marx-geo.csv.gz")).read(), source="b").rows
    assert geo.num_rows == seed.num_rows
    assert geo.column("time") == seed.column("time")
    # the CSV's empty country cells, as pyarrow's CSV reader counts them; Namibia's code "NA"
    # is a country, not a missing value
    import pyarrow.csv as pcsv

    raw = pcsv.read_csv(bundled("marx-geo.csv.gz"), convert_options=pcsv.ConvertOptions(
        include_columns=["cc"], strings_can_be_null=True, null_values=[""])).column("cc")
    assert geo.column("geo_cc").null_count == raw.null_count > 0
    assert geo.column("geo_cc").to_pylist().count("NA") == raw.to_pylist().count("NA") >= 1
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


def test_damaged_rows_are_rejects_and_line_numbers_stay_right() -> None:
    """Issue 9, item 15: bad values, short rows, a stray quote and invalid UTF-8 each reject their
    own row (never the file), and a quoted line break does not shift the numbers of later lines."""
    data = (
        b"datetime,host,src,proto,type,spt,dpt\n"
        b"2013-03-03 21:53:59,h1,1032051418,TCP,,abc,1433\n"  # line 2
        b"2013-03-03 21:53:59,h1,1032051418,TCP,,6000,0x50\n"  # 3
        b"2013-03-03 21:53:59,h1,1032051418,TCP,,6000\n"  # 4
        b'2013-03-03 21:53:59,"h\n2",1032051418,TCP,,6000,22\n'  # 5-6: one record
        b"2013-03-03 21:53:59,h1,1032051418,TCP,,6000,23\n"  # 7
        b'2013-03-03 21:53:59,"h1,1032051418,TCP,,6000,24\n'  # 8: the quote never closes
        b"2013-03-03 21:53:59,h\xff1,1032051418,TCP,,6000,25\n"  # 9
        b"\n"  # 10
        b"2013-03-03 21:53:59,h1,1032051418,UDP,,-5,26\n"  # 11
        b"2013-03-03 21:53:59,h1,1032051418,TCP,,6000,27\n"  # 12
    )
    res = read_seed_csv(data, source="hand.csv")
    assert [(r["line"], r["dpt"]) for r in res.rows.select(["line", "dpt"]).to_pylist()] == [
        (5, 22), (7, 23), (12, 27)]
    assert res.rows.column("host").to_pylist() == ["h\n2", "h1", "h1"]
    assert [(r["line"], r["reason"]) for r in res.rejects.to_pylist()] == [
        (2, "bad value"), (3, "bad value"), (4, "short row"), (8, "unbalanced quote"),
        (9, "bad encoding"), (10, "blank line"), (11, "bad value")]
    assert res.lines == res.rows.num_rows + res.rejects.num_rows == 10


def test_clean_file_read_directly_gives_the_hand_computed_rows() -> None:
    """A clean file takes pyarrow's direct path; its rows are the values worked out by hand."""
    from honeyscope.ingest.seed_csv import _read_clean

    data = (
        b"datetime,host,src,proto,type,spt,dpt\n"
        b"2013-03-03 21:53:59,groucho-oregon,1032051418,TCP,,6000,1433\n"
        b"2013-03-04 00:00:01,h2,16909060,ICMP,8,,\n"
        b'2013-03-04 00:00:02,"h2",4294967295,UDP,,0065535,53\n'
    )
    names = list(data.split(b"\n", 1)[0].decode().split(","))
    assert _read_clean(data, names, source="s", tz="UTC", first_line=2) is not None
    r = read_seed_csv(data, source="s")
    assert r.rejects.num_rows == 0 and r.lines == 3
    got = r.rows.select(["host", "src", "src_int", "proto", "icmp_type", "spt", "dpt", "line"])
    assert got.to_pylist() == [
        # 1032051418 = 61 * 2**24 + 131 * 2**16 + 218 * 2**8 + 218
        {"host": "groucho-oregon", "src": "61.131.218.218", "src_int": 1032051418, "proto": "TCP",
         "icmp_type": None, "spt": 6000, "dpt": 1433, "line": 2},
        {"host": "h2", "src": "1.2.3.4", "src_int": 16909060, "proto": "ICMP", "icmp_type": 8,
         "spt": None, "dpt": None, "line": 3},
        {"host": "h2", "src": "255.255.255.255", "src_int": 4294967295, "proto": "UDP",
         "icmp_type": None, "spt": 65535, "dpt": 53, "line": 4},
    ]
    assert [str(x) for x in r.rows.column("time").to_pylist()] == [
        "2013-03-03 21:53:59+00:00", "2013-03-04 00:00:01+00:00", "2013-03-04 00:00:02+00:00"]
    assert set(r.rows.column("family").to_pylist()) == {4}
    assert set(r.rows.column("source").to_pylist()) == {"s"}


@pytest.mark.parametrize("row", [
    b"2013-03-03 21:53:59,h1,1032051418,TCP,,6000,0x50",  # pyarrow reads hex; a bad value here
    b"2013-03-03 21:53:59,h1,1032051418,tcp,,6000,80",  # lower case: upper-cased by the general path
    b"2013-03-03 21:53:59, h1,1032051418,TCP,,6000,80",  # padded host: stripped
    b"2013-03-03T21:53:59,h1,1032051418,TCP,,6000,80",  # ISO 'T': not the seed's layout
    b"2013-03-03 21:53:59,h1,1032051418,TCP,, 6000,80",  # padded number
    b'2013-03-03 21:53:59,h"1,1032051418,TCP,,6000,80',  # a stray quote
    b'2013-03-03 21:53:59,"h"1,1032051418,TCP,,6000,80',  # balanced, but text after the closing one
    b'2013-03-03 21:53:59,x"h",1032051418,TCP,,6000,80',  # balanced, but text before the opening one
])
def test_unclean_files_take_the_general_path(row: bytes) -> None:
    from honeyscope.ingest.seed_csv import _read_clean

    data = b"datetime,host,src,proto,type,spt,dpt\n" + row + b"\n"
    assert _read_clean(data, list(SEED), source="s", tz="UTC", first_line=2) is None


SEED = ("datetime", "host", "src", "proto", "type", "spt", "dpt")


@pytest.mark.parametrize("header", [
    b"Datetime,Host,Src,Proto,Type,Spt,Dpt",
    b"datetime, host, src, proto, type, spt, dpt",
    b'"datetime","host","src","proto","type","spt","dpt"',
])
def test_a_header_spelled_otherwise_is_read_by_the_general_path(header: bytes) -> None:
    """The direct path takes the header exactly as written; any other spelling the sniffer accepts
    (case, spaces, quotes) is read by the general path, not an error."""
    data = header + b"\n2013-03-03 21:53:59,h1,1032051418,TCP,,6000,80\n"
    r = read_seed_csv(data, source="s")
    assert r.rejects.num_rows == 0
    assert r.rows.select(["host", "src", "spt", "dpt"]).to_pylist() == [
        {"host": "h1", "src": "61.131.218.218", "spt": 6000, "dpt": 80}]


def test_a_byte_order_mark_is_not_part_of_the_header(tmp_path) -> None:
    """A spreadsheet's CSV starts with a UTF-8 BOM: still a marx file, its one row read."""
    from honeyscope.ingest.run import ingest

    f = tmp_path / "bom.csv"
    f.write_bytes(b"\xef\xbb\xbfdatetime,host,src,proto,type,spt,dpt\n"
                  b"2013-03-03 21:53:59,h1,1032051418,TCP,,6000,80\n")
    led = ingest([f], tmp_path / "store")
    assert (led.rows, led.rejected(), led.inputs[0].kind) == (1, {}, "marx")


def test_a_quote_inside_a_field_is_bad_quoting() -> None:
    """``"h"1`` is no CSV field (RFC 4180: a quoted field ends at its closing quote): the row is set
    aside as ``bad quoting`` whichever path reads the file; the rows around it are kept."""
    data = (b"datetime,host,src,proto,type,spt,dpt\n"
            b"2013-03-03 21:53:59,h1,1032051418,TCP,,6000,80\n"
            b'2013-03-03 21:53:59,"h"1,1032051418,TCP,,6000,81\n'
            b'2013-03-03 21:53:59,"h2",1032051418,TCP,,6000,82\n')
    r = read_seed_csv(data, source="s")
    assert [(x["host"], x["dpt"]) for x in r.rows.to_pylist()] == [("h1", 80), ("h2", 82)]
    assert [(x["line"], x["reason"]) for x in r.rejects.to_pylist()] == [(3, "bad quoting")]


GEO_HEADER = (b"datetime,host,src,proto,type,spt,dpt,srcstr,cc,country,locale,localeabbr,postalcode,"
              b"latitude,longitude\n")
SEED_HEADER_LINE = b"datetime,host,src,proto,type,spt,dpt\n"


@pytest.mark.parametrize("data", [
    SEED_HEADER_LINE + b"2013-03-03 21:53:59,h1,1032051418,TCP,,6000,80\r\n"
    b"2013-03-03 21:54:00,h2,1,UDP,,53,53\r\n",  # CRLF
    SEED_HEADER_LINE + b"2013-03-03 21:53:59,h1,1032051418,TCP,,6000,80\n\n",  # blank last line
    b"\xef\xbb\xbf" + SEED_HEADER_LINE + b"2013-03-03 21:53:59,h1,1032051418,TCP,,6000,80\n",  # BOM
    SEED_HEADER_LINE + b"2013-06-30 23:59:60,h1,1,TCP,,1,2\n2013-02-30 00:00:00,h1,1,TCP,,1,2\n"
    b"2013-03-03 24:00:00,h1,1,TCP,,1,2\n2013-03-03 21:53:59,h1,1,TCP,,1,2\n",  # impossible times
    SEED_HEADER_LINE + b"2013-03-03 21:53:59,h1,1,TCP,,65536,2\n2013-03-03 21:53:59,h1,4294967296,"
    b"TCP,,1,2\n2013-03-03 21:53:59,h1,1,ICMP,256,,\n2013-03-03 21:53:59,h1,1,TCP,,1,2\n",  # ranges
    SEED_HEADER_LINE + b'2013-03-03 21:53:59,"h 1",1,TCP,,1,2\n2013-03-03 21:53:59,"h,2",1,"UDP",,1,2\n'
    b'2013-03-03 21:53:59,"h""3",1,TCP,,1,2\n',  # quoted fields, a comma and an escaped quote
    SEED_HEADER_LINE + b"2013-03-03 21:53:59,h1,1,TCP,,1,2\n2013-03-03 21:53:59,h1,1,TCP,,1\n"
    b"2013-03-03 21:53:59,,1,TCP,,1,2\n2013-03-03 21:53:59,h1,,TCP,,1,2\n",  # short row, no host/src
    GEO_HEADER + b'2013-03-20 11:18:44,g1,1612338957,TCP,,56559,23,96.26.87.13,US,United States,'
    b'"Washington, D.C.",DC,,38.8951,-77.0364\n2013-03-20 11:18:45,g1,1,UDP,,1,2,0.0.0.1,,,,,,,\n'
    b"2013-03-20 11:18:46,g1,1,UDP,,1,2,0.0.0.1,FR,France,Paris,75,,48.85,x\n",  # geo, bad longitude
], ids=["crlf", "blank-last", "bom", "times", "ranges", "quoted", "missing", "geo"])
def test_both_paths_agree(data: bytes, monkeypatch) -> None:
    """Whichever path reads a file (the direct one when it is clean, the general one otherwise),
    the rows and the rejects are the same: each file read as is, then with the direct path off."""
    from honeyscope.ingest import seed_csv

    got = read_seed_csv(data, source="s")
    monkeypatch.setattr(seed_csv, "_read_clean", lambda *a, **k: None)
    general = read_seed_csv(data, source="s")
    assert got.rows.equals(general.rows) and got.rejects.equals(general.rejects)
    assert got.lines == general.lines


@pytest.mark.slow
@pytest.mark.parametrize("name", ["marx.csv.gz", "marx-geo.csv.gz"])
def test_both_paths_agree_on_the_bundled_files(name: str, monkeypatch) -> None:
    """The bundled files take the direct path; the general path gives the same table."""
    import gzip
    from importlib import resources

    from honeyscope.ingest import seed_csv

    data = gzip.decompress(resources.files("honeyscope.data").joinpath(name).read_bytes())
    names = data.split(b"\n", 1)[0].decode().split(",")
    assert seed_csv._read_clean(data, names, source="s", tz="UTC", first_line=2) is not None
    got = read_seed_csv(data, source="s")
    monkeypatch.setattr(seed_csv, "_read_clean", lambda *a, **k: None)
    general = read_seed_csv(data, source="s")
    assert got.rows.equals(general.rows) and got.rejects.num_rows == general.rejects.num_rows == 0
