"""The explore commands end to end through ``honeyscope.cli.main`` on the bundled marx CSV."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from honeyscope import cli


@pytest.fixture(scope="module")
def marx_csv() -> str:
    return str(resources.files("honeyscope") / "data" / "marx.csv.gz")


def run(capsys, *argv: str) -> str:
    assert cli.main(list(argv)) == 0
    return capsys.readouterr().out


def test_count_csv(capsys, marx_csv):
    out = run(capsys, "count", "--by", "icmp_type", "--format", "csv", marx_csv)
    assert out.splitlines()[:2] == ["icmp_type,name,count", "0,echo reply,536"]
    assert out.splitlines()[-1] == ",,406770"


def test_daily_csv_and_ports_text_and_plot(capsys, marx_csv, tmp_path):
    out = run(capsys, "daily", "--format", "csv", marx_csv)
    lines = out.splitlines()
    assert lines[0] == "host,day,value" and lines[1] == "groucho-eu,2013-03-03,6"
    png = tmp_path / "p.png"
    out = run(capsys, "ports", "--top", "9", "--plot", str(png), marx_csv)
    assert out.split("\n")[1].split() == ["109425", "40611", "30077", "19574", "15406", "15102",
                                         "14512", "10180", "8330", "64774"]
    assert png.stat().st_size > 1000


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_port_sources_json_and_summary(capsys, marx_csv):
    rows = json.loads(run(capsys, "port-sources", "--top", "2", "--format", "json", marx_csv))
    assert {r["port"] for r in rows} == {1433, 3389} and rows[0]["day"] == "2013-03-03"
    out = run(capsys, "summary", marx_csv)
    assert "Min.   :1.68e+07" in out and "groucho-tokyo    :126189" in out


def test_bad_by_is_an_error(capsys, marx_csv):
    assert cli.main(["count", "--by", "nope", marx_csv]) == 2
    assert "no such column" in capsys.readouterr().err
