"""The HTML report: structure, numbers, escaping of hostile log text, and a real browser's view."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from honeyscope.cli import main as cli

HOSTILE = '<script>alert(1)</script>"\'\x1b[31m=cmd|calc'


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory) -> Path:
    """The whole demo (the bundled data set, ~40 s): for the slow tests only."""
    out = tmp_path_factory.mktemp("demo")
    assert cli(["demo", "-o", str(out)]) == 0
    return out / "report.html"


#: The small data set: sensors, days, and the packets of sensor ``h`` on day ``d``.
SMALL_HOSTS, SMALL_DAYS = ("s-a", "s-b", "s-c"), 14


def _small_count(d: int, h: int) -> int:
    return 20 + (d * 7 + h * 3) % 11


@pytest.fixture(scope="module")
def small_report(tmp_path_factory) -> tuple[Path, dict]:
    """A report of about 1,100 packets written here (3 sensors x 14 days, 20-30 a day): the
    structure tests run on it in seconds. Sources 1.1.1.0-1.1.1.59 (a source reaches every
    sensor), TCP to ports 22/80/443/23, every tenth packet an ICMP echo request."""
    tmp = tmp_path_factory.mktemp("small")
    rows = []
    for d in range(SMALL_DAYS):
        for h, host in enumerate(SMALL_HOSTS):
            for i in range(_small_count(d, h)):
                src = 16843008 + (d * 7 + h * 11 + i) % 60
                when = f"2013-03-{d + 1:02d} {(i * 5) // 60 + h:02d}:{(i * 5) % 60:02d}:00"
                if i % 10 == 9:
                    rows.append(f"{when},{host},{src},ICMP,8,,\n")
                else:
                    rows.append(f"{when},{host},{src},TCP,,{40000 + i},{(22, 80, 443, 23)[i % 4]}\n")
    src = tmp / "small.csv"
    src.write_text("datetime,host,src,proto,type,spt,dpt\n" + "".join(rows))
    out = tmp / "report.html"
    from honeyscope.cli.report import run_report  # what `honeyscope report` runs

    res = run_report([str(src)], str(out))
    return out, res


def _check_structure(html: str) -> None:
    """What every report is: self-contained, no script, a contents list matching its sections,
    the data and the key findings first, each finding pointing to an anchor that exists."""
    assert html.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "<script" not in html.lower()
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing fetched
    ids = re.findall(r'<section id="([^"]+)"', html)
    assert ids[:2] == ["data", "findings"]
    nav = re.search(r'<nav class="toc".*?</nav>', html).group(0)
    toc = re.findall(r'<li><a href="#([^"]+)"', nav)
    assert toc == ids
    findings = re.search(r'<div class="findings"><ul>(.*?)</ul>', html).group(1).split("<li>")[1:]
    assert findings and len(findings) == len(set(findings))
    assert all('<sup class="ref"><a href="#' in f for f in findings)
    anchors = set(re.findall(r'id="([^"]+)"', html))
    assert set(re.findall(r'<sup class="ref"><a href="#([^"]+)"', html)) <= anchors
    assert set(re.findall(r'<a href="#(event-E\d+)"', html)) <= anchors  # flag -> event links
    assert re.search(r'<img class="chart" alt="[^"]*" width="\d+" height="\d+" src="data:image/png;base64,',
                     html)


def test_report_structure_on_small_data(small_report):
    path, res = small_report
    assert res["processes"] == 1  # a small store: a second process would cost more than it saves
    html = path.read_text()
    _check_structure(html)
    total = sum(_small_count(d, h) for d in range(SMALL_DAYS) for h in range(len(SMALL_HOSTS)))
    m = re.search(r"<th>packets</th><td>([\d,]+)</td>", html)
    assert total > 999 and m and m.group(1) == f"{total:,}"  # packets, with separators


@pytest.mark.slow
def test_report_structure_and_numbers(demo_report):
    html = demo_report.read_text()
    _check_structure(html)
    assert "451,581" in html  # packets, with separators
    assert "126,189" in html  # groucho-tokyo
    assert "69,602" in html  # distinct sources (data README)
    findings = re.search(r'<div class="findings"><ul>(.*?)</ul>', html).group(1).split("<li>")[1:]
    assert len(findings) >= 8 and len(findings) == len(set(findings))
    # the largest events named, each finding pointing to the table its figures come from
    assert any("2.186.189.218" in f and "11,116 UDP packets to port 2193 on groucho-tokyo" in f
               for f in findings)
    assert all('<sup class="ref"><a href="#' in f for f in findings)
    anchors = set(re.findall(r'id="([^"]+)"', html))
    assert set(re.findall(r'<sup class="ref"><a href="#([^"]+)"', html)) <= anchors
    assert set(re.findall(r'<a href="#(event-E\d+)"', html)) <= anchors  # flag -> event links
    assert re.search(r'<a href="#event-E\d+">', html)


def _hostile_csv(tmp_path: Path) -> Path:
    f = tmp_path / "hostile.csv"
    host = HOSTILE.replace('"', '""')
    rows = "".join(
        f'2013-03-0{d} 10:00:00,"{host}",{16843009 + d},TCP,,1000,{80 + d}\n' for d in range(1, 9)
    )
    f.write_text("datetime,host,src,proto,type,spt,dpt\n" + rows)
    return f


def _hostile_log(tmp_path: Path) -> Path:
    """A raw log whose prefix and interface carry markup and an escape sequence."""
    line = (
        "Mar {d:2d} 10:00:00 s1 kernel: <img src=x onerror=alert(1)>\x1b[2J IN=\"><svg/onload=1> "
        "OUT= SRC=1.2.3.{d} DST=5.6.7.8 LEN=40 TTL=41 ID=1 PROTO=TCP SPT=1 DPT=22 WINDOW=1 RES=0x00 "
        "SYN URGP=0\n"
    )
    f = tmp_path / "k.log"
    f.write_text("".join(line.format(d=d) for d in range(1, 9)))
    return f


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory) -> str:
    """One report (the costly part) of both hostile inputs: a CSV whose sensor name is markup
    with an escape sequence, and a raw log whose prefix and interface are; its HTML."""
    import warnings

    tmp = tmp_path_factory.mktemp("hostile")
    out = tmp / "r.html"
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Glyph")  # a control character drawn in a chart label
        assert cli(["report", str(_hostile_csv(tmp)), str(_hostile_log(tmp)), "-o", str(out),
                    "--year", "2013"]) == 0
    return out.read_text()


@pytest.mark.slow  # more than 3 s on 2 cores (CI runs it)
def test_hostile_sensor_name_is_shown_as_text(hostile_report):
    html = hostile_report
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\x1b" not in html


@pytest.mark.slow  # more than 3 s on 2 cores (CI runs it)
def test_report_restricts_to_dates_and_sensors(tmp_path):
    src = tmp_path / "a.csv"
    src.write_text(
        "datetime,host,src,proto,type,spt,dpt\n"
        "2013-03-01 10:00:00,a,16843009,TCP,,1,22\n"
        "2013-03-02 10:00:00,a,16843010,TCP,,1,22\n"
        "2013-03-03 10:00:00,b,16843011,TCP,,1,22\n"
    )
    out = tmp_path / "r.html"
    assert cli(["report", str(src), "-o", str(out), "--from", "2013-03-02", "--to", "2013-03-03",
                "--sensors", "a"]) == 0
    html = out.read_text()
    m = re.search(r"<th>packets</th><td>([\d,]+)</td>", html)
    assert m and m.group(1) == "1"


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed")
def test_report_in_headless_chromium(demo_report, tmp_path):
    """Open the report in a real browser: no console error, no request, every chart drawn."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    requests: list[str] = []
    url = demo_report.resolve().as_uri()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium"),
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load")
            charts = page.eval_on_selector_all(
                "img.chart", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=False)
            widths = {w: _layout(browser, url, w) for w in (1280, 800)}
        finally:
            browser.close()
    assert errors == []
    assert [r for r in requests if r != url and not r.startswith("data:")] == []
    assert charts, "the report has no chart"
    assert all(c[0] and c[1] > 100 and c[2] > 100 for c in charts), charts
    assert shot.stat().st_size > 10_000
    for w, (doc, over, tables, rows) in widths.items():
        assert doc[0] <= doc[1], f"the page scrolls sideways at {w} px"
        assert over == [], f"sections wider than their card at {w} px: {over}"
        if w == 1280:  # the wide tables fit without a scroll bar
            assert tables == [], tables
        # one line a row (the sensor chain is compact): under two lines of 15 px text
        assert rows and max(rows) < 2 * 15 * 1.5 + 12, (w, rows[:3])
    keep = os.environ.get("HONEYSCOPE_SCREENSHOT")  # e.g. docs/report-screenshot.png
    if keep:
        shutil.copy(shot, keep)
    print(f"screenshot: {keep or shot}")


def _layout(browser, url: str, width: int):
    """At ``width`` px: the document's scroll/client width, the sections that overflow their
    card, the key tables that need a scroll bar, and the row heights of the sensor-chain table."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(url, wait_until="load")
        doc = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        over = page.eval_on_selector_all(
            "section", "els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.id)")
        tables = page.eval_on_selector_all(
            "#events-table, #sources-top",
            "els => els.filter(t => t.parentElement.scrollWidth > t.parentElement.clientWidth + 1)"
            ".map(t => [t.id, t.parentElement.scrollWidth, t.parentElement.clientWidth])")
        rows = page.eval_on_selector_all(
            "#sources-top tbody tr", "els => els.map(e => e.getBoundingClientRect().height)")
    finally:
        page.close()
    return doc, over, tables, rows


@pytest.mark.slow  # more than 3 s on 2 cores (CI runs it)
def test_hostile_prefix_and_interface_in_a_raw_log(hostile_report, tmp_path, capsys):
    html = hostile_report
    assert "<img src=x" not in html and "<svg" not in html and "\x1b" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # the prefix, shown as text
    assert "&quot;&gt;&lt;svg/onload=1&gt;" in html  # the interface, shown as text
    f = _hostile_log(tmp_path)
    assert cli(["count", str(f), "--by", "prefix", "--year", "2013"]) == 0
    text = capsys.readouterr().out
    assert "\x1b" not in text and "<img src=x" in text  # plain text on a terminal, ESC made visible


@pytest.mark.slow  # two whole reports, one of them on a spawned second process
def test_two_process_report_equals_one_process_report(tmp_path):
    from honeyscope import api
    from honeyscope.render.report import build_report
    from honeyscope.store.store import Store

    src = _hostile_csv(tmp_path)
    st = api.resolve_store([str(src)])
    files = [str(f) for f in st.packet_files()]
    one, two = tmp_path / "one.html", tmp_path / "two.html"
    kw = {"ledger": st.ledger(), "meta": dict(Store(st.path).meta)}
    build_report(api.open_packets([str(st.path)]), one, **kw)
    res = build_report(api.open_packets([str(st.path)]), two, files=files, two_processes_from=0, **kw)
    assert res["processes"] == 2  # 8 rows: on two processes only because asked to
    made = re.compile(r"on \d{4}-\d\d-\d\d \d\d:\d\d UTC")
    assert made.sub("", one.read_text()) == made.sub("", two.read_text())
    assert "health" in res["timings"]  # built on the second process, timed there


def test_findings_point_to_their_tables(monkeypatch):
    """Through build_sections itself: a section module written here gives two findings, one
    pointing to a table of its own, the other to no table (so to the section)."""
    import sys
    import types

    from honeyscope.render.html import Section
    from honeyscope.render.report import build_sections
    from honeyscope.render.sections import ReportContext

    alpha = types.ModuleType("honeyscope.render.sections.alpha_here")

    def build(ctx):
        ctx.findings.append("x <1>")  # a builder that records a finding itself too: listed once
        return [Section("a", "Alpha", "", ["x <1>", "y"], {"x <1>": ("a-table", "Alpha: a table")})]

    alpha.build = build
    monkeypatch.setitem(sys.modules, alpha.__name__, alpha)
    ctx = ReportContext(packets=None, con=None)
    body = build_sections(ctx, ["alpha_here", "findings"])[-1].body
    assert ctx.findings == ["x <1>", "y"]
    assert body.count("<li>x &lt;1&gt;") == 1
    assert '<li>x &lt;1&gt;<sup class="ref"><a href="#a-table" title="Alpha: a table">[1]</a>' in body
    assert '<li>y<sup class="ref"><a href="#a" title="Alpha">[2]</a>' in body
    assert '<ol class="refs"><li><a href="#a-table">Alpha: a table</a></li>' in body


def test_compact_long_chain_and_links_escape():
    import pandas as pd

    from honeyscope.render.html import compact, link_list, table

    chain = ">".join(f"s{i}" for i in range(9))
    got = compact(chain, 3, ">")
    assert got == f'<span class="compact" title="{chain.replace(">", "&gt;")}">s0&gt;s1&gt;s2 +6</span>'
    assert compact("a>b", 3, ">") == "a&gt;b"
    assert link_list(["E1", '"><x']) == ('<a href="#event-E1">E1</a> '
                                         '<a href="#event-&quot;&gt;&lt;x">&quot;&gt;&lt;x</a>'
                                         ).replace("#event-", "#")
    html = table(pd.DataFrame({"e": [["E1"]], "o": [chain]}), id="t1", row_ids=["r1"],
                 html_cells={"e": lambda v: link_list(v, "event-"),
                             "o": lambda v: compact(v, 3, ">")})
    assert '<table id="t1">' in html and '<tr id="r1">' in html
    assert '<a href="#event-E1">E1</a>' in html and "+6</span>" in html


def test_flag_table_links_to_events():
    import pandas as pd

    from honeyscope.render.sections import ReportContext
    from honeyscope.render.sections.health import _event_links

    ctx = ReportContext(packets=None, con=None)
    ctx.meta["events"] = pd.DataFrame({
        "event": ["E1", "E2"], "sensors": ["tokyo", "eu,tokyo"],
        "start": pd.to_datetime(["2013-07-24 07:46", "2013-08-26 22:00"], utc=True),
        "end": pd.to_datetime(["2013-07-24 07:56", "2013-08-27 00:26"], utc=True),
    })
    flags = pd.DataFrame({"scope": ["sensor", "sensor", "fleet-port"],
                          "host": ["tokyo", "eu", ""],
                          "day": pd.to_datetime(["2013-07-24", "2013-08-27", "2013-08-26"]).date})
    show, cells = _event_links(ctx, flags)
    assert show["events"].tolist() == [["E1"], ["E2"], ["E2"]]
    assert cells["events"](["E1"]) == '<a href="#event-E1">E1</a>'
    assert cells["events"]([]) == ""


def test_packets_copied_into_memory_once_up_to_a_size():
    """The report reads its packets from DuckDB's memory when there are at most ``up_to`` of them:
    the same rows in the same order; a larger selection is read where it lies; released after."""
    import pyarrow as pa

    from honeyscope.analyse import engine
    from honeyscope.render.report import _in_memory

    con = engine.connect()
    t = con.create_table("p", pa.table({"src": ["b", "a", "c"], "n": [3, 1, 2]}))
    cached = _in_memory(t.filter(t.n > 1), up_to=2)
    assert cached is not t and cached.execute().to_dict("list") == {"src": ["b", "c"], "n": [3, 2]}
    name = cached.get_name().rsplit(".", 1)[-1]

    def tables() -> list[str]:
        return [r[0] for r in con.raw_sql("SELECT table_name FROM duckdb_tables()").fetchall()]

    assert name in tables()
    cached.release()
    assert name not in tables()
    wide = t.filter(t.n > 0)
    assert _in_memory(wide, up_to=2) is wide  # three rows: more than up_to


def test_one_blas_thread_within_and_restored_after():
    import numpy as np

    from honeyscope.analyse import blas

    np.linalg.svd(np.eye(3))  # numpy's OpenBLAS loaded
    before = blas.threads()
    if not before:
        pytest.skip("no OpenBLAS found in this process (another BLAS or another OS)")
    with blas.one_thread():
        assert blas.threads() == [1] * len(before)
    assert blas.threads() == before


def test_demo_script_installs_once(tmp_path):
    """scripts/demo.sh on a second run goes straight to `honeyscope demo` (no pip), and installs
    again when a file the install depends on changed. A stand-in .venv logs what is run."""
    import subprocess
    import time

    repo = Path(__file__).resolve().parent.parent
    (tmp_path / "scripts").mkdir()
    shutil.copy(repo / "scripts" / "demo.sh", tmp_path / "scripts" / "demo.sh")
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "src").mkdir()
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    log = tmp_path / "log"
    for name, line in (("python", "python $*"), ("honeyscope", "honeyscope $*")):
        (venv / name).write_text(f'#!/bin/sh\necho "{line}" >> {log}\n')
        (venv / name).chmod(0o755)

    def run() -> list[str]:
        log.write_text("")
        subprocess.run(["bash", "scripts/demo.sh", "-o", "out"], cwd=tmp_path, check=True)
        return log.read_text().splitlines()

    first = run()
    assert "python -m pip install -q -e ." in first and first[-1] == "honeyscope demo -o out"
    assert not any("pip" in c for c in run())  # installed: straight to the demo
    time.sleep(0.01)
    future = time.time() + 5  # newer than the stamp, whatever the file system's time resolution
    os.utime(tmp_path / "pyproject.toml", (future, future))
    assert "python -m pip install -q -e ." in run()


def test_second_process_only_for_a_large_store_and_an_idle_core(monkeypatch):
    """The rule of build_report: a second process from TWO_PROCESSES_FROM rows and half a core
    idle, by default; an explicit threshold decides alone; no files or no section left: one."""
    from honeyscope.render import report

    monkeypatch.setattr(report, "_rows", lambda files: 100_000)
    monkeypatch.setattr(report, "TWO_PROCESSES_FROM", 100_000)
    for idle, expected in ((1.9, 2), (0.5, 2), (0.4, 1), (-2.0, 1)):
        monkeypatch.setattr(report, "idle_cores", lambda idle=idle: idle)
        assert report._processes(["a.parquet"], True, None) == expected
    assert report._processes(["a.parquet"], True, 0) == 2  # asked for: the load does not matter
    assert report._processes(["a.parquet"], True, 100_001) == 1
    assert report._processes([], True, 0) == 1
    assert report._processes(["a.parquet"], False, 0) == 1
    monkeypatch.setattr(report, "idle_cores", lambda: 2.0)
    monkeypatch.setattr(report, "_rows", lambda files: 99_999)
    assert report._processes(["a.parquet"], True, None) == 1


def test_rate_capping_is_computed_once_for_the_events_and_health_sections(monkeypatch):
    """Both sections show the capped sensors: the second reuses the first's capping()."""
    from honeyscope.analyse import engine, health
    from honeyscope.ingest.seed_csv import read_seed_csv
    from honeyscope.render.sections import ReportContext
    from honeyscope.render.sections import events as ev_section
    from honeyscope.render.sections import health as health_section

    data = b"datetime,host,src,proto,type,spt,dpt\n" + b"".join(
        f"2013-03-0{d} 1{h}:00:00,h{k},{1000 + d + k},TCP,,6000,{22 + h}\n".encode()
        for d in range(1, 4) for h in range(3) for k in range(2))
    con = engine.connect()
    t = engine.packets_from_arrow(con, read_seed_csv(data, source="s").rows)
    calls = []
    real = health.capping
    monkeypatch.setattr(health, "capping", lambda *a, **k: calls.append(1) or real(*a, **k))
    ctx = ReportContext(packets=t, con=con)
    ev_section.get_events(ctx)
    health_section._health(ctx)
    assert len(calls) == 1
