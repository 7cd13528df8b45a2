"""The health / trends / survival report sections and CLI commands."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from honeyscope import schema
from honeyscope.analyse import engine
from honeyscope.render.sections import ReportContext
from honeyscope.render.sections import health as section


@pytest.mark.slow  # the whole marx data set through the health sections
def test_sections_on_marx(marx):
    ctx = ReportContext(packets=marx, con=marx._find_backend())
    secs = section.build(ctx)
    assert [s.id for s in secs] == ["health", "trends", "survival"]
    health, trends, survival = (s.body for s in secs)
    # completeness of groucho-eu: 4,332 of 4,520 hours
    assert "4,332" in health and "4,520" in health and "95.8%" in health
    assert "No gaps" in health and "No sign of rate-limited logging" in health
    assert "<img" in health and "Hours with data per sensor and day" in health
    # port 23 since May: Mann-Whitney p 0.767, no significant rise
    assert "TCP/23" in trends and "0.767" in trends
    assert any("no significant rise" in f for f in secs[1].findings)
    assert "groucho-eu TCP/1433 on Wed 2013-08-07" in trends
    assert "42.24" in survival  # TCP/135: KM median hours to first probe
    assert all(s.findings for s in secs)


def _hostile_table(where: Path) -> Path:
    """Two sensors, one named like an HTML/terminal attack, 40 days of traffic on port 23."""
    rng = np.random.default_rng(5)
    t0 = pd.Timestamp("2024-01-01", tz="UTC").value // 1000
    hosts = ["<script>alert(1)</script>", "=cmd|' /C calc'!A0"]
    rows = []
    for h in hosts:
        secs = np.sort(rng.uniform(0, 40 * 86400, 4000))
        rows.append(pa.table({
            "time": pa.array(t0 + (secs * 1e6).astype("int64"), pa.timestamp("us", tz="UTC")),
            "host": pa.array([h] * len(secs)),
            "src": pa.array([f"203.0.113.{i % 200}" for i in range(len(secs))]),
            "proto": pa.array(["TCP"] * len(secs)),
            "dpt": pa.array(rng.choice([23, 22, 445], len(secs)).astype("uint16"), pa.uint16()),
        }))
    path = where / "p.parquet"
    pq.write_table(schema.conform(pa.concat_tables(rows)), path)
    return path


@pytest.mark.slow  # more than 3 s on 2 cores (CI runs it)
def test_sections_escape_hostile_sensor_names(tmp_path):
    t = engine.packets_from_files(engine.connect(), [_hostile_table(tmp_path)])
    ctx = ReportContext(packets=t, con=t._find_backend())
    secs = section.build(ctx)
    for s in secs:
        assert "<script>" not in s.body
    assert "&lt;script&gt;" in secs[0].body
    # no data in 2013: the rise test splits at the middle of the data's span instead
    assert "since 2024-01-2" in secs[1].body


def _cli(argv: list[str]) -> str:
    from honeyscope.cli import main

    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(argv) == 0
    return buf.getvalue()


@pytest.fixture(scope="module")
def gap_csv(tmp_path_factory) -> Path:
    """A marx-format CSV: sensors a and b, a packet every 5 minutes for 4 days; a is silent
    for 18 hours from day 2 03:00."""
    t0 = pd.Timestamp("2024-05-01")
    secs = np.arange(0, 4 * 86400, 300)
    lines = ["datetime,host,src,proto,type,spt,dpt"]
    for h in ("a", "b"):
        for s in secs:
            if h == "a" and 2 * 86400 + 3 * 3600 < s < 2 * 86400 + 21 * 3600:
                continue
            ts = (t0 + pd.Timedelta(seconds=int(s))).strftime("%Y-%m-%d %H:%M:%S")
            lines.append(f"{ts},{h},{16843009 + int(s) // 300},TCP,,40000,{23 if s % 600 else 22}")
    path = tmp_path_factory.mktemp("cli") / "gap.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_gaps_and_health(gap_csv):
    out = _cli(["gaps", str(gap_csv), "--format", "csv"])
    df = pd.read_csv(io.StringIO(out))
    assert list(df["host"]) == ["a"] and list(df["kind"]) == ["gap"]
    assert df["hours"].iloc[0] == pytest.approx(18.0)
    text = _cli(["gaps", str(gap_csv)])
    assert text.startswith("a: silent 18.0 h from 2024-05-03 03:00 to 2024-05-03 21:00 UTC (17 whole hours)")
    h = json.loads(_cli(["health", str(gap_csv), "--format", "json"]))
    by = {r["host"]: r for r in h}
    assert by["b"]["hours_with_data"] == 96 and by["a"]["hours_with_data"] == 96 - 17


def test_cli_trends_survival_anomalies(gap_csv, capsys):
    r = json.loads(_cli(["trends", str(gap_csv), "--rise", "tcp/23", "--split", "2024-05-03",
                         "--format", "json"]))[0]
    assert r["days_before"] == 2 and r["days_after"] == 2
    s = pd.read_csv(io.StringIO(_cli(["survival", str(gap_csv), "--format", "csv"])))
    assert set(s["dpt"]) == {22, 23}
    assert s.set_index("dpt").loc[23, "min_hours"] == pytest.approx(5 / 60)
    ns = pd.read_csv(io.StringIO(_cli(["survival", str(gap_csv), "--new-sources",
                                       "--format", "csv"])))
    assert ns.set_index("host").loc["b", "median_s"] == 300
    # four steady days: too short for a 14-day series, nothing to flag
    assert _cli(["anomalies", str(gap_csv)]) == ""  # empty result: the note is on stderr
    assert capsys.readouterr().err.strip() == "honeyscope: note: nothing flagged"


def _survival_findings(tmp_path, packets: list[tuple[str, int, str, int]]) -> list[str]:
    """The survival section's findings over (host, seconds after 2024-01-01, src, TCP port)."""
    t0 = pd.Timestamp("2024-01-01", tz="UTC").value // 1000
    rows = pa.table({
        "time": pa.array([t0 + s * 1_000_000 for _, s, _, _ in packets], pa.timestamp("us", tz="UTC")),
        "host": [h for h, _, _, _ in packets], "src": [a for _, _, a, _ in packets],
        "proto": ["TCP"] * len(packets), "dpt": pa.array([p for *_, p in packets], pa.uint16())})
    pq.write_table(schema.conform(rows), tmp_path / "p.parquet")
    t = engine.packets_from_files(engine.connect(), [tmp_path / "p.parquet"])
    return section._survival(ReportContext(packets=t, con=t._find_backend())).findings


def test_survival_findings_say_nothing_of_data_at_one_instant(tmp_path):
    # every packet at the same instant: no time to a first probe, no rate of new sources per day
    findings = _survival_findings(tmp_path, [("a", 0, "192.0.2.1", 23), ("a", 0, "192.0.2.2", 22),
                                             ("b", 0, "192.0.2.1", 23)])
    assert findings == []


def test_survival_contrast_of_the_fastest_and_slowest_port(tmp_path):
    # a and b start at 0 (port 80); a is probed on 23 after 1 h and on 22 after 10 h, b after 3 h
    # and 20 h; both run 30 h. With two sensors the Kaplan-Meier curve reaches 0.5 at the first
    # probe: medians 0 h (80, the first packet of each), 1 h (23) and 10 h (22).
    h = 3600
    findings = _survival_findings(tmp_path, [
        ("a", 0, "192.0.2.9", 80), ("a", 1 * h, "192.0.2.1", 23), ("a", 10 * h, "192.0.2.2", 22),
        ("a", 30 * h, "192.0.2.9", 80), ("b", 0, "192.0.2.9", 80), ("b", 3 * h, "192.0.2.1", 23),
        ("b", 20 * h, "192.0.2.2", 22), ("b", 30 * h, "192.0.2.9", 80)])
    assert findings[0] == ("Half the sensors saw TCP/80 within 0.0 h of their start, but TCP/22 only "
                           "after 10.0 h (median over sensors).")
    assert all("nan" not in f for f in findings)


@pytest.mark.parametrize("tz", ["UTC", None])
def test_rise_split_from_zoned_or_naive_times(monkeypatch, tz):
    """The rise test's split day from the data's span whether the engine gives zoned times
    (DuckDB) or the session's UTC wall clock (Spark): outside the span, its middle."""
    import honeyscope.analyse.base as base

    span = pd.DataFrame({"first": [pd.Timestamp("2023-03-01 00:00", tz=tz)],
                         "last": [pd.Timestamp("2023-03-11 00:00", tz=tz)]})

    class _Expr:
        def execute(self):
            return span

    monkeypatch.setattr(base, "sensor_spans_expr", lambda t, by=(): _Expr())
    ctx = ReportContext.__new__(ReportContext)
    ctx.options = {}  # type: ignore[misc]
    # the default split (2013-05-01) is outside March 2023: the middle of the span, 2023-03-06
    assert section._rise_params(ctx, None) == ("TCP", 23, "2023-03-06")
