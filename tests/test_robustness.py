"""Odd but plausible inputs: short spans, dmesg-only, host-less lines, live logs, bad options."""

from __future__ import annotations

import os
import re
import time

import pytest

import honeyscope
from honeyscope.cli import main as cli

UFW = (
    "{stamp} {host}kernel: [UFW BLOCK] IN=eth0 OUT= MAC=0a:0d:14:95:e5:27:0a:b3:35:19:7e:54:08:00 "
    "SRC=114.33.197.{n} DST=172.30.0.64 LEN=40 TOS=0x00 PREC=0x00 TTL=41 ID=6624 PROTO=TCP "
    "SPT=43861 DPT={dpt} WINDOW=24253 RES=0x00 SYN URGP=0"
)
DMESG = (
    "[{n}.5] INPUT drop: IN=eth0 OUT= SRC=10.0.0.{n} DST=10.0.0.2 LEN=40 TTL=64 ID=1 PROTO=TCP "
    "SPT=1 DPT=22 WINDOW=1 RES=0x00 SYN URGP=0"
)


def _lines(days: int, per_day: int = 20, host: str = "s1 ") -> str:
    out = []
    for d in range(days):
        for k in range(per_day):
            stamp = f"Mar {3 + d:2d} 10:{k:02d}:00"
            out.append(UFW.format(stamp=stamp, host=host, n=k, dpt=[22, 23, 445][k % 3]))
    return "\n".join(out) + "\n"


@pytest.mark.slow  # a report each: more than 3 s on 2 cores (CI runs it)
@pytest.mark.parametrize("days", [1, 3])
def test_report_on_a_short_span(tmp_path, days):
    f = tmp_path / "k.log"
    f.write_text(_lines(days))
    out = tmp_path / "r.html"
    assert cli(["report", str(f), "-o", str(out), "--year", "2013"]) == 0
    html = out.read_text()
    assert re.search(r"<th>packets</th><td>([\d,]+)</td>", html).group(1) == f"{20 * days:,}"


def test_dmesg_only_input_gets_a_sensor(tmp_path):
    f = tmp_path / "dmesg.txt"
    f.write_text("\n".join(DMESG.format(n=n) for n in range(1, 30)) + "\n")
    led = honeyscope.ingest([str(f)], tmp_path / "s")
    assert led.rows == 29 and led.hosts() == {"dmesg.txt": 29}  # the input's name, never null
    t = honeyscope.open_store(tmp_path / "s").polars()
    assert t["time"].null_count() == 29 and t["uptime"].null_count() == 0


@pytest.fixture(scope="module")
def odd_report(tmp_path_factory) -> str:
    """One report (the costly part) of a store holding both odd inputs: 29 dmesg lines (no wall
    clock) and a raw log of 3 days whose sensor s1 has 5 rejected lines on 4 March; its HTML."""
    tmp = tmp_path_factory.mktemp("odd")
    (tmp / "dmesg.txt").write_text("\n".join(DMESG.format(n=n) for n in range(1, 30)) + "\n")
    junk = "Mar  4 11:00:00 s1 sshd[12]: Failed password for root\n" * 5
    (tmp / "k.log").write_text(_lines(3) + junk)
    honeyscope.ingest([str(tmp / "dmesg.txt"), str(tmp / "k.log")], tmp / "s", year=2013)
    out = tmp / "r.html"
    assert cli(["report", str(tmp / "s"), "-o", str(out)]) == 0
    return out.read_text()


@pytest.mark.slow  # more than 3 s on 2 cores (CI runs it)
def test_dmesg_only_packets_reach_the_report(odd_report):
    assert "29 packets carry only a kernel uptime" in odd_report


def test_hostless_lines_take_the_sensor_option(tmp_path):
    f = tmp_path / "k.log"
    f.write_text(_lines(2, host=""))
    led = honeyscope.ingest([str(f)], tmp_path / "s", sensor="edge-1", year=2013)
    assert led.hosts() == {"edge-1": 40}


def test_sensor_option_fills_but_never_renames_csv_hosts(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("datetime,host,src,proto,type,spt,dpt\n"
                 "2013-03-03 21:53:59,h1,16843009,TCP,,1,2\n"
                 "2013-03-03 21:53:59,,16843010,TCP,,1,2\n")
    led = honeyscope.ingest([str(f)], tmp_path / "s", sensor="x")
    assert led.hosts() == {"h1": 1, "x": 1}


def test_unknown_time_zone_is_a_clear_error(tmp_path, capsys):
    f = tmp_path / "k.log"
    f.write_text(_lines(1))
    assert cli(["ingest", str(f), "--store", str(tmp_path / "s"), "--tz", "Mars/Olympus"]) == 2
    assert "unknown time zone" in capsys.readouterr().err


def test_live_log_half_written_line_waits_for_its_end(tmp_path):
    f = tmp_path / "kern.log"
    full = _lines(1, per_day=3)
    first, second, third = full.splitlines(keepends=True)
    f.write_text(first + second + third[:60])  # the third line is being written
    s = tmp_path / "s"
    led = honeyscope.ingest([str(f)], s, year=2013)
    assert (led.lines, led.rows, led.rejected()) == (2, 2, {})
    with open(f, "a") as fh:
        fh.write(third[60:])
    led = honeyscope.ingest([str(f)], s, year=2013)
    assert led.inputs[0].status == "grown" and (led.lines, led.rows) == (1, 1)
    lines = honeyscope.open_store(s).polars()["line"].sort().to_list()
    assert lines == [1, 2, 3]


def test_old_file_without_final_newline_is_read_whole(tmp_path):
    f = tmp_path / "old.log"
    f.write_text(_lines(1, per_day=3).rstrip("\n"))
    past = time.time() - 3600
    os.utime(f, (past, past))
    assert honeyscope.ingest([str(f)], tmp_path / "s", year=2013).rows == 3


@pytest.mark.slow  # more than 3 s on 2 cores (CI runs it)
def test_rejects_per_sensor_and_day_reach_the_health_section(tmp_path, odd_report):
    f = tmp_path / "k.log"
    junk = "Mar  4 11:00:00 s1 sshd[12]: Failed password for root\n" * 5
    f.write_text(_lines(3) + junk)
    s = tmp_path / "s"
    honeyscope.ingest([str(f)], s, year=2013)
    rej = honeyscope.open_store(s).rejects_by_host_day()
    assert rej.to_dict("records") == [
        {"host": "s1", "day": __import__("datetime").date(2013, 3, 4), "rejects": 5}]
    assert "sensor-days with the largest share of rejected lines" in odd_report


@pytest.mark.slow  # more than 3 s on 2 cores (CI runs it)
def test_health_commands_on_a_dmesg_store(tmp_path, capsys):
    f = tmp_path / "dmesg.txt"
    f.write_text("\n".join(DMESG.format(n=n) for n in range(1, 10)) + "\n")
    honeyscope.ingest([str(f)], tmp_path / "s")
    for cmd in (["health"], ["gaps"], ["daily"], ["ports"], ["summary"]):
        assert cli([*cmd, str(tmp_path / "s")]) == 0, cmd
