"""The one selection (--from/--to/--sensors/--src/--proto/--port) on every command and export, its
errors, and the CLI's exit codes and streams. Expected counts are read off the five rows below."""

from __future__ import annotations

import io
import warnings

import pandas as pd
import pytest

from conftest import run_cli as _run
from honeyscope import api

# src as integers: 16843009 = 1.1.1.1, 16843010 = 1.1.1.2, 33686018 = 2.2.2.2, 50529027 = 3.3.3.3
ROWS = (
    "datetime,host,src,proto,type,spt,dpt\n"
    "2013-03-01 10:00:00,a,16843009,TCP,,1,22\n"
    "2013-03-01 11:00:00,a,16843010,TCP,,1,23\n"
    "2013-03-02 10:00:00,b,33686018,UDP,,1,53\n"
    "2013-03-03 10:00:00,b,16843009,ICMP,8,,\n"
    "2013-03-03 12:30:00,c,50529027,TCP,,1,22\n"
)


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    f = tmp_path_factory.mktemp("sel") / "five.csv"
    f.write_text(ROWS)
    return str(f)


@pytest.fixture(scope="module")
def store(csv, tmp_path_factory):
    s = tmp_path_factory.mktemp("sel-store") / "store"
    api.ingest([csv], s)
    return str(s)


def _hosts(out: str) -> dict[str, int]:
    df = pd.read_csv(io.StringIO(out))
    return dict(zip(df["host"], df["count"], strict=True))


@pytest.mark.parametrize(("options", "expected"), [
    (["--sensors", "a,b"], {"a": 2, "b": 2}),
    (["--from", "2013-03-02", "--to", "2013-03-03"], {"b": 2, "c": 1}),  # --to a day: all of it
    (["--src", "1.1.1.0/24"], {"a": 2, "b": 1}),
    (["--src", "2.2.2.2,3.0.0.0/8"], {"b": 1, "c": 1}),
    (["--proto", "udp"], {"b": 1}),
    (["--proto", "17"], {"b": 1}),  # UDP's number
    (["--proto", "ICMP,udp"], {"b": 2}),
    (["--port", "22,53"], {"a": 1, "b": 1, "c": 1}),
    (["--to", "2013-03-03T12:00:00Z"], {"a": 2, "b": 2}),
    (["--from", "2013-03-03T13:30:00+01:00"], {"c": 1}),  # 12:30 UTC, inclusive
    (["--to", "2013-03-03T12:30:00Z"], {"a": 2, "b": 2, "c": 1}),  # inclusive too
])
def test_selection_on_count(capsys, store, options, expected):
    code, out, err = _run(capsys, ["count", store, "--by", "host", "--format", "csv", *options])
    assert code == 0, err
    assert _hosts(out) == expected


def test_selection_on_data_files(capsys, csv):
    code, out, err = _run(capsys, ["count", csv, "--by", "host", "--format", "csv", "--sensors", "b,c",
                                   "--port", "22"])
    assert code == 0, err
    assert _hosts(out) == {"c": 1}


def test_selection_on_other_commands(capsys, store):
    code, out, _ = _run(capsys, ["daily", store, "--sensors", "a", "--format", "csv"])
    assert code == 0
    assert pd.read_csv(io.StringIO(out))[["day", "value"]].values.tolist() == [["2013-03-01", 2]]
    code, out, _ = _run(capsys, ["ports", store, "--port", "22", "--format", "csv"])
    assert code == 0
    assert pd.read_csv(io.StringIO(out)).values.tolist() == [[22, 2]]


def test_export_takes_the_selection(capsys, store, tmp_path):
    out = tmp_path / "x.csv"
    code, _, err = _run(capsys, ["export", "--store", store, "--format", "csv", "-o", str(out),
                                 "--src", "1.1.1.0/24", "--proto", "tcp"])
    assert code == 0, err
    df = pd.read_csv(out)
    assert sorted(df["src"]) == ["1.1.1.1", "1.1.1.2"] and set(df["host"]) == {"a"}
    code, _, err = _run(capsys, ["export", "--store", store, "-o", str(out), "--sensors", "zz"])
    assert code == 1 and "a, b, c" in err


def test_unknown_sensor_lists_the_sensors(capsys, store):
    code, out, err = _run(capsys, ["count", store, "--by", "host", "--sensors", "a,nope"])
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "nope" in lines[0] and "a, b, c" in lines[0]


def test_empty_selection_says_what_there_is(capsys, store):
    code, out, err = _run(capsys, ["daily", store, "--from", "2014-01-01"])
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "5 packets" in lines[0]
    assert "2013-03-01T10:00:00Z to 2013-03-03T12:30:00Z" in lines[0] and "a, b, c" in lines[0]


@pytest.mark.parametrize("options", [
    ["--from", "2013-03-03", "--to", "2013-03-01"],
    ["--from", "2013-03-01T10:00:00"],  # no zone
    ["--src", "300.1.1.1/8"],
    ["--port", "70000"],
    ["--proto", "nosuch"],
])
def test_bad_selection_is_a_usage_error(capsys, store, options):
    code, out, err = _run(capsys, ["count", store, "--by", "host", *options])
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("option", [["--sensor", "x"], ["--tz", "Europe/Berlin"], ["--year", "2013"]])
def test_store_only_option_with_a_store_is_refused(capsys, csv, store, option):
    """`count STORE --sensor X` used to be accepted and ignored (all sensors, exit 0)."""
    code, out, err = _run(capsys, ["count", store, "--by", "host", *option])
    assert code == 2 and out == ""
    assert option[0] in err and "--sensors" in err
    code, _, _ = _run(capsys, ["count", csv, "--by", "host", *option])  # with files: fine
    assert code == 0


def test_source_without_packets_is_exit_1(capsys, store):
    code, out, err = _run(capsys, ["source", "9.9.9.9", store])
    assert code == 1 and out == "" and "9.9.9.9" in err and len(err.strip().splitlines()) == 1
    code, out, _ = _run(capsys, ["source", "1.1.1.1", store, "--format", "csv"])
    assert code == 0 and pd.read_csv(io.StringIO(out))["host"].tolist() == ["a", "b"]


def test_anomalies_fail_on_flags(capsys, monkeypatch, store):
    from honeyscope.analyse import trends

    flagged = pd.DataFrame({"kind": ["spike"], "host": ["a"], "why": ["a: a spike"]})
    monkeypatch.setattr(trends, "anomalies", lambda t, **kw: flagged)
    assert _run(capsys, ["anomalies", store, "--fail-on-flags"])[0] == 3
    assert _run(capsys, ["anomalies", store])[0] == 0  # without the option: a result like any
    monkeypatch.setattr(trends, "anomalies", lambda t, **kw: flagged.iloc[:0])
    code, out, err = _run(capsys, ["anomalies", store, "--fail-on-flags"])
    assert code == 0 and "nothing flagged" in out + err  # said on stdout, or as a note on stderr


def test_library_warnings_do_not_leak(capsys, monkeypatch, store):
    """A statsmodels warning during an analysis reaches neither stream."""
    import sys

    from honeyscope.analyse import trends

    def noisy(t, **kw):
        warnings.warn_explicit("Maximum Likelihood optimization failed to converge", UserWarning,
                               "statsmodels/base/model.py", 1, module="statsmodels.base.model")
        return pd.DataFrame({"why": []})

    monkeypatch.setattr(trends, "anomalies", noisy)
    monkeypatch.delenv("HONEYSCOPE_DEBUG", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # as a user's Python shows them
        warnings.showwarning = lambda m, *a, **k: print(f"warning: {m}", file=sys.stderr)
        code, out, err = _run(capsys, ["anomalies", store])
    assert code == 0 and "converge" not in err + out


def test_version(capsys):
    from honeyscope import __version__

    code, out, err = _run(capsys, ["--version"])
    assert code == 0 and out.strip() == f"honeyscope {__version__}" and err == ""


def test_engine_has_no_progress_bar():
    from honeyscope.analyse import engine

    con = engine.connect()
    assert con.raw_sql("SELECT current_setting('enable_progress_bar')").fetchone()[0] is False


def test_open_source_applies_the_selection(store):
    """A command calling an analysis itself (``ip``) gets the selected packets too."""
    import argparse

    from honeyscope.cli.common import open_source

    args = argparse.Namespace(source=[store], engine="duckdb", year=None, tz=None, sensor=None,
                              start=None, end="2013-03-02", sensors="a,b", src=None, proto="tcp", port=None)
    assert open_source(args).count().execute() == 2  # a's two TCP packets of March 1st


def test_report_restricts_with_the_selection(store):
    """The report keeps the packets of the same selection (and only those with a wall clock)."""
    from honeyscope.analyse.select import SelectionError, selection
    from honeyscope.render.report import ReportOptions, restrict

    t = api.open_packets(store)
    opts = ReportOptions(selection=selection(src="1.1.1.0/24", proto="tcp,icmp", end="2013-03-03"))
    assert sorted(restrict(t, opts).execute()["src"]) == ["1.1.1.1", "1.1.1.1", "1.1.1.2"]
    with pytest.raises(SelectionError, match="a, b, c"):
        restrict(t, ReportOptions(selection=selection(sensors="x")))
