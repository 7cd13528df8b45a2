"""Calibrated significance: negative binomial spike tails, autocorrelation-robust changepoints,
one Bonferroni family per run, emerging ports on sensor-days, the weekday effect only where it
is real, the rise test over each sensor's whole span; null and planted calibration fleets."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats

from honeyscope import schema
from honeyscope.analyse import engine, trends
from honeyscope.synth.fleet import CalibrationSpec, calibration_fleet

DAY0 = pd.Timestamp("2024-01-01", tz="UTC")  # a Monday


def _series(values: np.ndarray, start: str = "2024-01-01") -> trends.Series:
    keys = pd.DataFrame({"host": [f"h{i:03d}" for i in range(values.shape[0])]})
    return trends.Series(keys, pd.date_range(start, periods=values.shape[1], freq="D"),
                         values.astype(float))


def _nb(rng: np.random.Generator, mu: float, a: float, shape: tuple[int, int]) -> np.ndarray:
    return rng.poisson(rng.gamma(1 / a, a * mu, size=shape))


def _table(rows: list[tuple[str, int, int, int]]) -> pa.Table:
    """(host, port, day index, distinct sources) → one packet per source, sources unique,
    between 01:00 and 23:00; n = -1: one packet in the day's first minute and one in its last."""
    rng = np.random.default_rng(7)
    hosts, srcs, dpts, secs = [], [], [], []
    for host, port, day, n in rows:
        when = [30.0, 86370.0] if n < 0 else rng.uniform(3600, 82800, n).tolist()
        hosts += [host] * len(when)
        srcs += [f"s-{host}-{port}-{day}-{i}" for i in range(len(when))]
        dpts += [port] * len(when)
        secs += [day * 86400 + w for w in when]
    us = DAY0.value // 1000 + (np.array(secs) * 1e6).astype("int64")
    return schema.conform(pa.table({
        "time": pa.array(us, pa.timestamp("us", tz="UTC")), "host": pa.array(hosts),
        "src": pa.array(srcs), "proto": pa.array(["TCP"] * len(hosts)),
        "dpt": pa.array(dpts, pa.uint16()),
    }))


def _edges(hosts, n_days):
    """Packets at the very start and end of the span, so both edge days are whole."""
    out = []
    for h in hosts:
        out += [(h, 9, 0, -1), (h, 9, n_days - 1, -1)]
    return out


def _two_sensors(n_days, spike=None):
    """Sensors a and b over ``n_days``: Poisson(20) a day on port 22 and Poisson(8) on 445
    (seeded); ``spike``: (host, day) with 400 on port 22 instead."""
    rows = _edges(("a", "b"), n_days)
    rng = np.random.default_rng(6)
    for h in ("a", "b"):
        for d in range(n_days):
            rows.append((h, 22, d, 400 if (h, d) == spike else int(rng.poisson(20))))
            rows.append((h, 445, d, int(rng.poisson(8))))
    return rows


# ----------------------------------------------------------------------------------------------
# spikes: negative binomial tails


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_dispersion_fit_recovers_the_simulated_dispersion_and_ignores_spikes():
    rng = np.random.default_rng(1)
    y = _nb(rng, 30.0, 0.2, (40, 200)).astype(float)
    mu = np.full_like(y, 30.0)
    a = trends.fit_dispersion(y, mu)
    assert np.median(a) == pytest.approx(0.2, rel=0.2)  # the simulation's own parameter
    y[:, [50, 120, 170]] = 600  # three 20x spike days per series
    a_spiked = trends.fit_dispersion(y, mu)
    assert np.median(a_spiked) < 0.3  # a quantile fit barely moves
    pearson = ((y - mu) ** 2 / mu).mean(axis=1)  # the moment estimate explodes
    assert np.median(pearson) > 100
    poisson = rng.poisson(30.0, size=(40, 200)).astype(float)
    assert np.median(trends.fit_dispersion(poisson, mu)) < 0.01


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_spike_p_values_are_calibrated_on_overdispersed_null_series():
    rng = np.random.default_rng(2)
    s = _series(_nb(rng, 30.0, 0.1, (60, 150)))
    loose = trends.AnomalyOptions(z_min=0, min_count=0, min_ratio=1.0)
    sp = trends.spikes(s, loose, dips=False, family=1)  # raw p < 0.01, no other gate
    share = len(sp) / s.values.size
    assert share <= 0.015  # nominal 1%
    # what a Poisson tail says about the same days: many times too many
    expected = trends.baseline(s).expected
    pois = stats.poisson.sf(s.values - 1, np.maximum(expected, 0.5))
    assert (pois < 0.01).mean() > 5 * share


def test_a_tail_below_double_precision_is_not_printed_as_p_0():
    rng = np.random.default_rng(3)
    v = rng.poisson(10.0, size=(1, 120)).astype(float)
    v[0, 60] = 100_000
    sp = trends.spikes(_series(v), dips=False)
    assert len(sp) == 1
    assert "p < 1e-300" in sp["why"].iloc[0] and " p 0 " not in sp["why"].iloc[0]
    assert trends.fmt_p(0.0) == "p < 1e-300" and trends.fmt_p(3.4e-5) == "p 3e-05"


# ----------------------------------------------------------------------------------------------
# changepoints: autocorrelation


def _ar1(rng, phi, n, n_series):
    e = rng.normal(size=(n_series, n + 50))
    x = np.zeros_like(e)
    for t in range(1, e.shape[1]):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x[:, 50:]


def test_pettitt_holds_its_level_under_ar1_noise():
    rng = np.random.default_rng(4)
    x = _ar1(rng, 0.5, 150, 400)
    plain = np.array([trends.pettitt(r, 14)[2] for r in x])
    robust = np.array([trends.pettitt(r, 14, autocorr=True)[2] for r in x])
    assert (plain < 0.01).mean() > 0.10  # the issue: independent-days p fires far too often
    assert (robust < 0.01).mean() <= 0.025
    # and it still finds a real step in autocorrelated noise
    step = _ar1(rng, 0.5, 150, 1)[0] + np.r_[np.zeros(90), np.full(60, 4.0)]
    k, _, p = trends.pettitt(step, 14, autocorr=True)
    assert abs(k - 90) <= 2 and p < 1e-6


def test_changepoints_count_one_test_per_series_and_flag_no_null_series():
    rng = np.random.default_rng(5)
    s = _series(rng.poisson(20.0, size=(60, 150)))
    cp = trends.changepoints(s, metric="sources")
    assert cp.empty
    assert trends.changepoint_tests(s) == 60


# ----------------------------------------------------------------------------------------------
# one family per run


def test_the_family_is_every_test_of_the_run():
    n_days = 70
    rows = _two_sensors(n_days)
    con = engine.connect()
    t = engine.packets_from_arrow(con, _table(rows))
    a = trends.anomalies(t, top_ports=30)
    # by hand: sensor series 2 x 70 days x 2 directions = 280; sensor-port series (22, 445 on
    # each sensor; port 9 has 2 days) 4 x 70 = 280; changepoint tests one per series = 6;
    # emerging: ports with >= 20 source-days (22, 445) x window starts (70 - 28 - 7 + 1 = 36)
    assert a.attrs["family"] == 280 + 280 + 6 + 2 * 36
    both = trends.anomalies(t, metric="both", top_ports=30)
    assert both.attrs["family"] == 2 * (280 + 280 + 6) + 2 * 36


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_report_trends_table_names_the_test_and_the_family():
    from honeyscope.render.sections import ReportContext
    from honeyscope.render.sections import health as health_section

    n_days = 70
    rows = _two_sensors(n_days, spike=("a", 40))
    con = engine.connect()
    sec = health_section._trends(ReportContext(packets=engine.packets_from_arrow(con, _table(rows)),
                                               con=con))
    family = 280 + 280 + 6 + 2 * 36  # as counted by hand above
    assert f"p (Bonferroni over {family:,} tests)" in sec.body
    assert "negative binomial tail" in sec.body  # the test column of the spike row
    assert "Poisson p" not in sec.body and "Benjamini" not in sec.body
    assert any(f"over {family:,} tests" in f for f in sec.findings)


# ----------------------------------------------------------------------------------------------
# emerging ports


def test_one_sensors_burst_is_not_an_emerging_port_and_the_date_is_the_first_sighting():
    n_days, new_day = 70, 40
    hosts = ("a", "b", "c")
    rows = _edges(hosts, n_days)
    rng = np.random.default_rng(8)
    for h in hosts:
        for d in range(n_days):
            rows.append((h, 22, d, int(rng.poisson(20))))
            if d >= new_day:
                rows.append((h, 5555, d, 5))
    rows.append(("a", 7777, 50, 57))  # 57 one-packet sources, one sensor, one day
    t = engine.packets_from_arrow(engine.connect(), _table(rows))
    em = trends.emerging_ports(t)
    assert list(em["dpt"]) == [5555]
    row = em.iloc[0]
    day = (DAY0 + timedelta(days=new_day)).date()
    assert row["first_seen"] == day and row["day"] == day
    # the first window with >= 20 source-days starts on day 35 (days 40 and 41: 2 x 3 x 5 = 30;
    # from day 34 only day 40: 15): 6 of its 21 sensor-days after 0 of the 84 before, so
    # P(X >= 6) for X beta-binomial(21, 1/2, 84 + 1/2), by hand
    p_hand = stats.betabinom.sf(5, 21, 0.5, 84.5)
    assert row["sensor_days"] == 6
    assert row["p"] == pytest.approx(p_hand, rel=1e-6)


# ----------------------------------------------------------------------------------------------
# weekday effect only where the data show one


def test_weekday_effect_only_where_weekdays_differ():
    rng = np.random.default_rng(9)
    flat = rng.poisson(40.0, size=(20, 140))
    days = pd.date_range("2024-01-01", periods=140, freq="D")
    weekly = rng.poisson(np.where(days.day_of_week >= 5, 15.0, 40.0), size=(5, 140))
    s = _series(np.vstack([flat, weekly]))
    b = trends.baseline(s)
    assert (b.weekday[:20] == 0).sum() >= 19 * 7  # at most one flat series by chance
    assert (b.weekday_p[20:] < 1e-6).all()
    assert b.weekday[20:, 5:].mean() == pytest.approx(np.log(16 / 41), abs=0.15)


# ----------------------------------------------------------------------------------------------
# the rise test counts every sensor-day of the sensor's span


def test_rise_test_glm_counts_the_sensors_whole_span():
    n_days = 30
    rows = [("a", 80, d, 3) for d in range(n_days)] + _edges(("a",), n_days)  # 30 whole days
    rows += [("a", 23, d, 2 + d % 2) for d in range(10, 25)]  # port 23 only on days 10..24
    t = engine.packets_from_arrow(engine.connect(), _table(rows))
    r = trends.rise_test(t, "TCP", 23, (DAY0 + timedelta(days=15)).date())
    assert r["sensor_days"] == 30  # not the port's own 15 days
    # before: 2+3+2+3+2 = 12 sources over 15 sensor-days; after: 5 x (3+2) = 25 over 15: rate
    # ratio 25/12 = 2.08 (over the port's own days it would be (25/10) / (12/5) = 1.04)
    assert r["rate_ratio"] == pytest.approx(25 / 12, rel=0.2)


# ----------------------------------------------------------------------------------------------
# calibration fleets (the benchmark, small)

BURST = (1, 1433, 50, 8.0)
SHIFT = (2, 1433, 60, 3.0)
NEW_PORT = (5555, 70, 6.0)
SMALL = dict(sensors=4, days=100)


def _flags(spec: CalibrationSpec, metric: str) -> pd.DataFrame:
    t = engine.packets_from_arrow(engine.connect(), calibration_fleet(spec))
    return trends.anomalies(t, metric=metric)


def test_calibration_fleet_has_the_asked_for_shape():
    spec = CalibrationSpec(seed=3, sensors=3, days=56, rare_ports=0, ports=((22, 40.0),),
                           ar=0.0, ar_sd=0.0, dispersion=0.0, packets_per_source=1.0)
    df = calibration_fleet(spec).to_pandas()
    per = df.groupby([df["host"], df["time"].dt.date])["src"].nunique()
    assert per.mean() == pytest.approx(40 * np.mean(spec.weekday) * 1.1, rel=0.25)
    assert len(df) == df["src"].nunique()  # packets_per_source 1: one packet per source
    assert calibration_fleet(spec).equals(calibration_fleet(spec))


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["sources", "packets"])
def test_null_fleet_raises_no_flag(metric):
    for seed in (11, 12):
        flags = _flags(CalibrationSpec(seed=seed, **SMALL), metric)
        assert flags.empty, list(flags["why"])


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["sources", "packets"])
def test_planted_events_are_found_and_dated_right(metric):
    spec = CalibrationSpec(seed=11, burst=BURST, shift=SHIFT, new_port=NEW_PORT, **SMALL)
    a = _flags(spec, metric)
    day = a["day"].astype(str)

    def d(i: int) -> str:
        return str(spec.start + timedelta(days=i))

    burst = a[(a["host"] == "cal-01") & (a["port"] == "TCP/1433") & (a["kind"] == "spike")]
    assert list(day[burst.index]) == [d(BURST[2])]
    shift = a[(a["host"] == "cal-02") & (a["port"] == "TCP/1433") & (a["kind"] == "changepoint")]
    assert len(shift) >= 1
    assert min(abs((pd.Timestamp(x) - pd.Timestamp(d(SHIFT[2]))).days) for x in day[shift.index]) <= 3
    new = a[(a["port"] == "TCP/5555") & (a["kind"] == "emerging")]
    assert list(day[new.index]) == [d(NEW_PORT[1])]
    # nothing else but these events (and their echo in the sensor totals / the new port series)
    explained = a.index.isin(burst.index.union(shift.index).union(new.index))
    explained |= (a["port"] == "TCP/5555").to_numpy()
    explained |= ((a["port"] == "") & a["host"].isin(["cal-01", "cal-02"])).to_numpy()
    assert explained.all(), list(a.loc[~explained, "why"])


@pytest.mark.slow
def test_cli_anomalies_both_metrics_in_one_family(tmp_path):
    import io
    import json
    from contextlib import redirect_stdout

    from honeyscope.cli import main

    n_days = 70
    rows = _two_sensors(n_days, spike=("a", 40))
    df = _table(rows).select(["time", "host", "dpt"]).to_pandas()
    lines = ["datetime,host,src,proto,type,spt,dpt"]  # a marx CSV, every source its own address
    for i, r in enumerate(df.itertuples()):
        lines.append(f"{r.time:%Y-%m-%d %H:%M:%S},{r.host},{16843009 + i},TCP,,40000,{r.dpt}")
    path = tmp_path / "p.csv"
    path.write_text("\n".join(lines) + "\n")
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["anomalies", str(path), "--metric", "both", "--format", "json"]) == 0
    flags = pd.DataFrame(json.loads(buf.getvalue()))
    family = 2 * (280 + 280 + 6) + 2 * 36  # both metrics' series, emerging once (by hand)
    spike = flags[(flags["host"] == "a") & (flags["port"] == "TCP/22")]
    assert set(spike["metric"]) == {"sources", "packets"}  # one packet per source: both see it
    assert (flags["test"].str.endswith(f"Bonferroni over {family:,} tests")).all()
