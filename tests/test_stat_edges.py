"""Statistics on ordinary edge data: constant, all-zero, one day, two days, one sensor, no
wall-clock time. Each gives a defined answer, exit 0 and no warning on stderr (README, "Trends
and anomalies" and "Fair comparison").

The inputs are LOG lines written here: ``PER_DAY`` packets a day per sensor, the i-th of a day
at 00:10 + 48·i minutes (the last at 23:22), from 1.2.<sensor>.<i>, odd i to TCP/22 and even i
to TCP/23: every sensor-day has exactly 30 packets, 30 distinct sources, 15 of them on port 23.
"""

from __future__ import annotations

import json
import math
import warnings
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli as _run
from honeyscope.analyse import trends

LINE = ("{ts} {host} kernel: DROP IN=eth0 OUT= SRC=1.2.{a}.{b} DST=5.6.7.8 LEN=40 TOS=0x00 "
        "PREC=0x00 TTL=50 ID=1 PROTO=TCP SPT=40000 DPT={dpt} WINDOW=1024 RES=0x00 SYN URGP=0 ")
DMESG = ("[{n}.5] INPUT drop: IN=eth0 OUT= SRC=10.0.0.{n} DST=10.0.0.2 LEN=40 TTL=64 ID=1 PROTO=TCP "
         "SPT=1 DPT=22 WINDOW=1 RES=0x00 SYN URGP=0")
PER_DAY = 30
D0 = datetime(2013, 3, 4)  # a Monday


def _lines(hosts: int, days: int, port23_days: int | None = None) -> str:
    """``port23_days``: port 23 only on the first that many days (later its packets go to 22)."""
    out = []
    for h in range(hosts):
        for d in range(days):
            for i in range(PER_DAY):
                ts = D0 + timedelta(days=d, minutes=10 + 48 * i)
                dpt = 22 if i % 2 or (port23_days is not None and d >= port23_days) else 23
                out.append(LINE.format(ts=ts.strftime("%b %e %H:%M:%S"), host=f"s{h + 1}", a=h,
                                       b=i, dpt=dpt))
    return "\n".join(out) + "\n"


SHAPES = {
    "regular": (3, 14), "one_day": (3, 1), "two_days": (3, 2), "one_sensor": (1, 14),
}


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    d = tmp_path_factory.mktemp("stat-edges")
    paths = {}
    for name, (hosts, days) in SHAPES.items():
        paths[name] = d / f"{name}.log"
        paths[name].write_text(_lines(hosts, days))
    paths["port23_gone"] = d / "port23_gone.log"  # port 23 only in the first week
    paths["port23_gone"].write_text(_lines(3, 14, port23_days=7))
    paths["dmesg"] = d / "dmesg.log"
    paths["dmesg"].write_text("\n".join(DMESG.format(n=n) for n in range(1, 6)) + "\n")
    return {k: str(v) for k, v in paths.items()}


def _clean(err: str) -> None:
    """stderr holds at most one note line: no warning, no traceback, no error."""
    assert "Warning" not in err and "Traceback" not in err and "error" not in err, err
    assert err == "" or (err.count("\n") == 1 and err.startswith("honeyscope: note:")), err


# --- item 1: the fits are defined on constant / short / one-sensor data ----------------------


@pytest.mark.parametrize("shape", [pytest.param(s, marks=() if s == "regular" else pytest.mark.slow)
                                   for s in SHAPES])
@pytest.mark.parametrize("cmd", [["anomalies"], ["trends"], ["trends", "--metric", "packets"],
                                 ["trends", "--rise", "tcp/23", "--split", "2013-03-05"],
                                 ["trends", "--rise", "tcp/23", "--split", "2013-03-11"]],
                         ids=lambda c: "-".join(c).replace("/", ""))
def test_trends_and_anomalies_on_regular_data_exit_0_quietly(logs, capsys, shape, cmd):
    code, out, err = _run(capsys, [cmd[0], logs[shape], *cmd[1:], "--year", "2013",
                                   "--format", "json"])
    assert code == 0, err
    _clean(err)
    if "--rise" not in cmd:  # nothing varies: nothing is flagged
        assert json.loads(out) == [] and "nothing flagged" in err


def test_rise_test_on_constant_counts_is_poisson_not_nan(logs, capsys):
    """30 a day, every day: the quasi-Poisson GLM's Pearson dispersion is 0 (statsmodels' 'first
    guess on the deviance function returned a nan', exit 2, before). Poisson instead: port 23
    has 15 sources per sensor-day, 3 sensors × 7 days on each side = 315 and 315; balanced
    sensor and weekday terms, so the log rate ratio is 0 with s.e. sqrt(1/315 + 1/315)."""
    code, out, err = _run(capsys, ["trends", logs["regular"], "--rise", "tcp/23", "--split",
                                   "2013-03-11", "--year", "2013", "--format", "json"])
    assert code == 0 and err == ""
    r = json.loads(out)[0]
    se = math.sqrt(2 / 315)
    assert (r["days_before"], r["days_after"], r["sensor_days"]) == (7, 7, 42)
    assert r["rate_ratio"] == pytest.approx(1.0)
    assert r["rr_low"] == pytest.approx(math.exp(-1.96 * se), rel=1e-6)
    assert r["rr_high"] == pytest.approx(math.exp(1.96 * se), rel=1e-6)
    assert r["dispersion"] == 1.0 and r["glm_p"] == pytest.approx(1.0)
    assert r["mw_p"] == pytest.approx(1.0) and r["cles"] == 0.5


def test_rise_glm_with_no_source_after_the_split_says_so(logs):
    """Port 23 seen only before the split: the rate ratio's MLE is 0 (log: -inf), so no ratio
    and a reason, rather than an unbounded fit (the Part-2 metric has no day after the split, so
    :func:`trends.rise_test` stops earlier; the GLM is asked directly)."""
    from datetime import date

    from honeyscope.api import open_packets

    t = open_packets(logs["port23_gone"], year=2013)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        r = trends._glm_rise(t, "TCP", 23, date(2013, 3, 11))
    assert r == {"glm_why": "no rate ratio: no source on the port on one side of the split"}


def _series(values: np.ndarray) -> trends.Series:
    values = np.atleast_2d(np.asarray(values, float))
    keys = pd.DataFrame({"host": [f"s{i}" for i in range(values.shape[0])]})
    return trends.Series(keys, pd.date_range("2013-03-04", periods=values.shape[1]), values)


@pytest.mark.parametrize("values", [
    np.full((3, 14), 30.0), np.zeros((3, 14)), np.full((3, 1), 30.0), np.full((3, 2), 30.0),
    np.full((1, 14), 30.0), np.tile([30.0, 31.0] * 14, (3, 1)),
], ids=["constant", "all_zero", "one_day", "two_days", "one_sensor", "under_dispersed"])
def test_spikes_and_changepoints_are_defined_on_flat_series(values):
    """No spread beyond Poisson: dispersion 0 (Poisson), nothing flagged, no RuntimeWarning."""
    s = _series(values)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        b = trends.baseline(s)
        sp = trends.spikes(s)
        cp = trends.changepoints(s)
    assert (b.nb_a == 0).all() and np.isfinite(b.scale).all()
    assert sp.empty and cp.empty


@pytest.mark.slow
def test_report_of_regular_data_exits_0(logs, capsys, tmp_path):
    out = tmp_path / "r.html"
    code, _, err = _run(capsys, ["report", logs["regular"], "--year", "2013", "-o", str(out)])
    assert code == 0, err
    assert "Warning" not in err and "error" not in err
    assert out.stat().st_size > 0


# --- item 2: compare without a day has no per-day rate ---------------------------------------


def test_compare_of_dmesg_only_has_no_per_day_rate(logs, capsys):
    code, out, err = _run(capsys, ["compare", logs["dmesg"], "--format", "json"])
    assert code == 0 and err == ""
    (r,) = json.loads(out)
    assert (r["days"], r["packets"], r["untimed"]) == (0, 5, 5)
    for c in ("packets_per_day", "sources_per_day", "prefixes_per_day", "asns_per_day"):
        assert r[c] is None  # not 5.0 "per day"


def test_compare_untimed_rows_do_not_count_as_a_day(logs, capsys):
    """s1: 2 days of 30 packets plus 5 dmesg lines (named s1 by --sensor): 30 packets per day
    on its 2 days, not (30 + 30 + 5) / 3."""
    code, out, err = _run(capsys, ["compare", logs["two_days"], logs["dmesg"], "--sensor", "s1",
                                   "--year", "2013", "--format", "json"])
    assert code == 0 and err == ""
    r = {x["host"]: x for x in json.loads(out)}["s1"]
    assert (r["days"], r["packets"], r["untimed"]) == (2, 65, 5)
    assert r["packets_per_day"] == 30.0 and r["sources_per_day"] == 30.0


# --- item 3: health and survival -------------------------------------------------------------


def test_health_lists_a_sensor_without_time_with_na_completeness(logs, capsys):
    code, out, err = _run(capsys, ["health", logs["two_days"], logs["dmesg"], "--year", "2013",
                                   "--format", "json"])
    assert code == 0 and err == ""
    rows = {x["host"]: x for x in json.loads(out)}
    assert set(rows) == {"s1", "s2", "s3", "dmesg.log"}  # the dmesg sensor is not left out
    d = rows["dmesg.log"]
    assert (d["rows"], d["hours_with_data"], d["days_with_data"]) == (5, 0, 0)
    assert d["completeness"] is None and d["hours_in_span"] is None and d["first"] is None
    # 00:10 Mar 4 .. 23:22 Mar 5: 48 clock hours, each with a packet (48-minute spacing)
    assert (rows["s1"]["hours_in_span"], rows["s1"]["completeness"]) == (48, 1.0)


def test_health_of_dmesg_only_says_there_is_no_time(logs, capsys):
    code, out, err = _run(capsys, ["health", logs["dmesg"]])
    assert code == 0 and out == ""
    assert "no packet has a wall-clock time" in err and err.count("\n") == 1


def test_new_sources_per_day_of_a_one_day_sensor_is_not_divided_by_7(logs, capsys):
    """One day, 00:10 to 23:22 (83,520 s): 30 new sources in its first (and last) "week", which
    is its span: 30 / (83,520 / 86,400) per day, not 30 / 7."""
    code, out, err = _run(capsys, ["survival", logs["one_day"], "--new-sources", "--year", "2013",
                                   "--format", "json"])
    assert code == 0 and err == ""
    rate = 30 / (83_520 / 86_400)
    for r in json.loads(out):
        assert r["sources"] == 30 and r["median_s"] == 48 * 60
        assert r["first_week_per_day"] == pytest.approx(rate)
        assert r["last_week_per_day"] == pytest.approx(rate)


def test_new_sources_per_day_of_two_weeks_is_per_7_days(logs, capsys):
    """Ordinary spans keep the week: the 30 sources (the same every day) are all new on day 1."""
    code, out, _ = _run(capsys, ["survival", logs["regular"], "--new-sources", "--year", "2013",
                                 "--format", "json"])
    assert code == 0
    for r in json.loads(out):
        assert r["first_week_per_day"] == pytest.approx(30 / 7) and r["last_week_per_day"] == 0


def test_survival_of_dmesg_only_says_there_is_no_time(logs, capsys):
    code, out, err = _run(capsys, ["survival", logs["dmesg"]])
    assert code == 0 and out == ""
    assert "no packet to a port has a wall-clock time" in err and err.count("\n") == 1
