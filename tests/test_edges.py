"""Empty and edge results say so (issue 10, item 2), through the CLI.

The rule (README, "Empty results and exit codes"): a source with no packet at all exits 1 with
``no packets: N lines read, N rejected (reason: n, ...)``; an empty result of a valid selection
prints one note on stderr (``honeyscope: note: ...``), exit 0, and an empty but well-formed
output (nothing in text, the header in CSV, ``[]`` in JSON). Never a traceback, never R's
``<0 rows>`` or ``named integer(0)``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli as _run

TCP = ("Mar {d:2d} 10:{m:02d}:00 {host} kernel: DROP IN=eth0 OUT= SRC=1.2.3.{k} DST=5.6.7.8 LEN=40 "
       "TOS=0x00 PREC=0x00 TTL=50 ID=1 PROTO=TCP SPT=40000 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0 ")
UDP = ("Mar  3 10:{m:02d}:00 s1 kernel: DROP IN=eth0 OUT= SRC=1.2.3.{m} DST=5.6.7.8 LEN=40 TOS=0x00 "
       "PREC=0x00 TTL=50 ID=1 PROTO=UDP SPT=5353 DPT=53 LEN=20 ")
DMESG = ("[{n}.5] INPUT drop: IN=eth0 OUT= SRC=10.0.0.{n} DST=10.0.0.2 LEN=40 TTL=64 ID=1 PROTO=TCP "
         "SPT=1 DPT=22 WINDOW=1 RES=0x00 SYN URGP=0")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("edges")
    out = {
        # two lines, neither a netfilter line (like /etc/hostname)
        "junk": "myhost\nnothing here\n",
        "dmesg": "\n".join(DMESG.format(n=n) for n in range(1, 6)) + "\n",
        "one": TCP.format(d=3, m=0, host="s1", k=1) + "\n",
        "udp": "\n".join(UDP.format(m=m) for m in range(5)) + "\n",
        "timed": "\n".join(TCP.format(d=3 + i // 4, m=i % 4, host="s1", k=i % 4) for i in range(12)) + "\n",
    }
    paths = {}
    for name, text in out.items():
        paths[name] = d / f"{name}.log"
        paths[name].write_text(text)
    return {k: str(v) for k, v in paths.items()}


def _one_line(err: str) -> str:
    assert err.count("\n") == 1, err
    assert "Traceback" not in err and "unexpected" not in err
    return err


def test_every_line_rejected_is_exit_1_with_the_count(files, capsys):
    code, out, err = _run(capsys, ["daily", files["junk"], "--year", "2013"])
    assert code == 1 and out == ""
    assert _one_line(err) == ("honeyscope: error: no packets: 2 lines read, 2 rejected "
                              "(not a netfilter line: 2)\n")


def test_report_of_no_packets_is_exit_1(files, capsys, tmp_path):
    code, out, err = _run(capsys, ["report", files["junk"], "-o", str(tmp_path / "r.html")])
    assert code == 1 and out == "" and not (tmp_path / "r.html").exists()
    assert "no packets: 2 lines read, 2 rejected" in _one_line(err)


def test_ports_without_tcp_is_a_note_not_named_integer0(files, capsys):
    code, out, err = _run(capsys, ["ports", files["udp"], "--year", "2013"])
    assert (code, out) == (0, "")
    assert _one_line(err) == ("honeyscope: note: no TCP packet has a destination port: "
                              "there are no ports to rank\n")
    assert "integer(0)" not in out + err


def test_ports_unknown_protocol_is_a_usage_error(files, capsys):
    code, _, err = _run(capsys, ["ports", files["udp"], "--proto", "smtp"])
    assert code == 2 and "unknown protocol 'smtp'" in _one_line(err)


def test_port_sources_without_tcp_is_a_note_not_keyerror(files, capsys):
    code, out, err = _run(capsys, ["port-sources", files["udp"], "--year", "2013"])
    assert (code, out) == (0, "")
    assert "no TCP packet with a destination port has a wall-clock time" in _one_line(err)


def test_daily_of_dmesg_only_rows_is_a_note_and_well_formed_empty_output(files, capsys):
    code, out, err = _run(capsys, ["daily", files["dmesg"]])
    assert (code, out) == (0, "") and "<0 rows>" not in out
    assert "no packet has a wall-clock time" in _one_line(err)
    code, out, _ = _run(capsys, ["daily", files["dmesg"], "--format", "json"])
    assert (code, json.loads(out)) == (0, [])
    code, out, _ = _run(capsys, ["daily", files["dmesg"], "--format", "csv"])
    assert (code, out) == (0, "host,day,value\n")


def test_new_sources_with_a_dmesg_only_sensor_is_no_typeerror(files, capsys):
    code, out, err = _run(capsys, ["survival", files["timed"], files["dmesg"], "--new-sources",
                                   "--year", "2013", "--format", "json"])
    assert code == 0 and err == ""
    rows = json.loads(out)
    # s1: 4 sources (1.2.3.0-3), first packets 60 s apart on Mar 3; dmesg.log has no time
    assert [(r["host"], r["sources"], r["median_s"]) for r in rows] == [("s1", 4, 60.0)]


def test_series_without_one_whole_day_is_empty_not_indexerror():
    from honeyscope.analyse import trends

    df = pd.DataFrame({"host": ["s1"], "day": [pd.Timestamp("2013-03-03")], "value": [5]})
    # a sensor from 10:00 to 10:00 on one day: its first whole day is Mar 4, its last Mar 2
    span = pd.DataFrame({"host": ["s1"], "first": [pd.Timestamp("2013-03-04")],
                         "last": [pd.Timestamp("2013-03-02")]})
    s = trends._dense(df, ["host"], span)
    assert s.values.shape == (0, 0) and len(s.days) == 0 and np.size(s.values) == 0


COMMANDS = [
    ["summary"], ["count", "--by", "host"], ["daily"], ["ports"], ["port-sources"], ["enrich"],
    ["sources"], ["scans"], ["compare"], ["events"], ["health"], ["gaps"], ["trends"],
    ["anomalies"], ["survival"], ["survival", "--new-sources"],
]


@pytest.mark.slow
@pytest.mark.parametrize("edge", ["junk", "dmesg", "one"])
@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: "-".join(c))
def test_command_by_edge(files, capsys, cmd, edge):
    """Every analysis command on: no packet at all (exit 1, the count), only rows without a
    time, one row: a defined exit code, at most one line on stderr, never a traceback, never
    R's empty prints; an empty text result prints nothing on stdout."""
    code, out, err = _run(capsys, [cmd[0], files[edge], *cmd[1:], "--year", "2013"])
    if edge == "junk":
        assert code == 1 and out == ""
        assert "no packets: 2 lines read, 2 rejected" in _one_line(err)
        return
    assert code == 0
    if err:
        _one_line(err)
    for bad in ("<0 rows>", "integer(0)", "Empty DataFrame", "Traceback"):
        assert bad not in out + err
    if "note:" in err:
        assert out == ""
