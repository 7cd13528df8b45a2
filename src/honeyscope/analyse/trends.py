"""Trends and anomalies per sensor and per sensor × port, each flag with its reason in words.

Daily series are aggregated with Ibis (portable ops only); the statistics run on the small dense
series matrix (series × days) with numpy/scipy/statsmodels.

* **Baseline** (robust): on ``log1p(value)``, a centred 29-day rolling median (the level) plus,
  per series, the median deviation of each weekday from that level, kept only where a
  Kruskal-Wallis test says the weekdays differ (p < 0.01; else no weekday effect). The expected
  value of a day is ``expm1(level + weekday effect)``.
* **Spike / dip**: robust z of the day's residual (residual / (1.4826 × MAD of the series'
  residuals)); a spike needs ``z >= z_min``, at least ``min_count``, ``ratio >= min_ratio`` and a
  negative binomial tail probability (mean = expected, dispersion fitted per series by matching
  the central 80/90/95% of its days, so spikes do not inflate it) below ``alpha`` after Bonferroni
  over every test of the run (all series, days, directions and metrics, changepoint and
  emerging-port tests included).
* **Changepoint**: Pettitt's rank test with its variance inflated for day-to-day
  autocorrelation of the ranks, on the log1p series (weekday-adjusted where weekdays differ):
  one test per series in the run's Bonferroni family; binary segmentation only inside a series
  that passed, every further split held to the same threshold; effect = ratio of the mean daily
  values after and before.
* **Emerging port**: sensor-days that saw the port in a 7-day window against the 28 days
  before, beta-binomial (the prior share's own uncertainty, no floor), Bonferroni over the run;
  dated on the first day of the surge the port was seen.
* **Rise test** ("is the rise of port 23 since May significant?"): Part 2's metric before and
  after a date, one-sided Mann–Whitney U with its common-language effect size, the
  Hodges–Lehmann shift, and a quasi-Poisson GLM on sensor-days with sensor and weekday terms
  (rate ratio with 95% CI).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from honeyscope.analyse import blas
from honeyscope.analyse.base import sensor_spans_expr, timed
from honeyscope.analyse.explore import port_day_sources_expr

METRICS = ("packets", "sources")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _day(t: ibis.Table) -> ibis.Value:
    return t.time.date()


# ----------------------------------------------------------------------------------------------
# daily series


def group_daily_expr(
    t: ibis.Table, by: tuple[str, ...] = ("host",), metric: str = "packets"
) -> ibis.Table:
    """Daily value per group, days without rows absent (the dense matrix is :func:`series`; the
    zero-filled per-sensor counts of Part 1 are :func:`honeyscope.analyse.explore.daily_expr`):
    ``by`` columns, ``day`` (UTC date), ``value`` (rows or distinct src)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}")
    t = timed(t)  # rows without a wall clock (dmesg) have no day
    if "dpt" in by:
        t = t.filter(t.dpt.notnull())
    value = t.count() if metric == "packets" else t.src.nunique()
    return t.group_by([*by, _day(t).name("day")]).aggregate(value=value)


@dataclass
class Series:
    """Dense daily series: ``values[s, d]`` for series ``keys.iloc[s]`` and day ``days[d]``;
    NaN outside the series' sensor span, 0 on silent days inside it."""

    keys: pd.DataFrame
    days: pd.DatetimeIndex
    values: np.ndarray


def series(
    t: ibis.Table,
    by: tuple[str, ...] = ("host",),
    metric: str = "packets",
    min_days: int = 14,
    top: int | None = None,
    spans: pd.DataFrame | None = None,
) -> Series:
    """Daily series per group as a dense matrix (groups active on at least ``min_days`` days;
    with ``top`` only the ``top`` groups with the largest total). ``spans``: the result of
    :func:`sensor_spans` when already known."""
    d = group_daily_expr(t, by, metric)
    keep = d.group_by(list(by)).aggregate(n_days=d.count(), total=d.value.sum())
    keep = keep.filter(keep.n_days >= min_days)
    if top:
        keep = keep.order_by([ibis.desc("total"), *by]).limit(top)
    d = d.semi_join(keep, list(by))
    df = d.execute()
    return _dense(df, list(by), sensor_spans(t) if spans is None else spans)


def sensor_spans(t: ibis.Table) -> pd.DataFrame:
    """Per sensor, the first and last *whole* day it reported: its first (last) day counts only
    when its first (last) packet falls within an hour of that day's start (end); partial edge
    days would otherwise look like dips."""
    sp = sensor_spans_expr(t).execute()
    first = pd.to_datetime(sp["first"], utc=True).dt.tz_localize(None)
    last = pd.to_datetime(sp["last"], utc=True).dt.tz_localize(None)
    f0, l0 = first.dt.floor("D"), last.dt.floor("D")
    sp["first"] = f0.where(first - f0 <= pd.Timedelta(hours=1), f0 + pd.Timedelta(days=1))
    sp["last"] = l0.where(last - l0 >= pd.Timedelta(hours=23), l0 - pd.Timedelta(days=1))
    return sp


def _dense(df: pd.DataFrame, by: list[str], span: pd.DataFrame) -> Series:
    if df.empty:
        return Series(pd.DataFrame(columns=by), pd.DatetimeIndex([]), np.zeros((0, 0)))
    df = df.copy()
    df["day"] = pd.to_datetime(df["day"])
    span = span.copy()
    span["first"] = pd.to_datetime(span["first"])
    span["last"] = pd.to_datetime(span["last"])
    days = pd.date_range(span["first"].min(), span["last"].max(), freq="D")
    if not len(days):  # no sensor reported one whole day: no series (not an IndexError)
        return Series(pd.DataFrame(columns=by), pd.DatetimeIndex([]), np.zeros((0, 0)))
    df = df[(df["day"] >= days[0]) & (df["day"] <= days[-1])]
    keys = df[by].drop_duplicates().sort_values(by).reset_index(drop=True)
    keys["_s"] = np.arange(len(keys))
    df = df.merge(keys, on=by)
    values = np.zeros((len(keys), len(days)))
    values[df["_s"].to_numpy(), (df["day"] - days[0]).dt.days.to_numpy()] = df["value"].to_numpy()
    if "host" in by:
        sp = keys[["host"]].merge(span, on="host", how="left")
        di = np.arange(len(days))[None, :]
        lo = ((sp["first"] - days[0]).dt.days.to_numpy())[:, None]
        hi = ((sp["last"] - days[0]).dt.days.to_numpy())[:, None]
        values[(di < lo) | (di > hi)] = np.nan
    return Series(keys.drop(columns="_s"), days, values)


# ----------------------------------------------------------------------------------------------
# baseline, spikes, dips


@dataclass(frozen=True)
class AnomalyOptions:
    window: int = 29  # days of the centred rolling median (the level)
    z_min: float = 4.0  # robust z needed for a spike / dip
    min_count: int = 10  # a spike day needs at least this value
    min_ratio: float = 2.0  # observed / expected for a spike (expected / observed for a dip)
    alpha: float = 0.01  # family-wise level after Bonferroni over every test of the run
    scale_floor: float = 0.1  # floor of the residual scale (log1p units)
    min_seg: int = 14  # shortest segment around a changepoint, days
    min_change: float = 1.5  # changepoint: mean after / before (or its inverse) at least this
    max_changes: int = 3  # changepoints per series
    weekday_alpha: float = 0.01  # weekday effects are used only where Kruskal-Wallis p is below


@dataclass
class Baseline:
    expected: np.ndarray  # S×D expected value (negative binomial mean)
    z: np.ndarray  # S×D robust z of log1p residual
    weekday: np.ndarray  # S×7 weekday effect (log1p units); zeros where not significant
    scale: np.ndarray  # S residual scale
    weekday_p: np.ndarray | None = None  # S Kruskal-Wallis p of the weekday effect
    nb_a: np.ndarray | None = None  # S negative binomial dispersion a (var = mu + a·mu²)


def _nb_tails(y: np.ndarray, mu: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P(Y >= y) and P(Y <= y) under a negative binomial with mean ``mu`` and variance
    ``mu + a·mu²`` (Poisson where a is 0); ``a`` broadcasts over ``y``."""
    y = np.nan_to_num(y)
    a = np.broadcast_to(a, y.shape)
    mu = np.broadcast_to(mu, y.shape)
    pois = a < 1e-8
    up, dn = np.empty(y.shape), np.empty(y.shape)
    with np.errstate(all="ignore"):
        up[pois] = stats.poisson.sf(y[pois] - 1, mu[pois])
        dn[pois] = stats.poisson.cdf(y[pois], mu[pois])
        nb = ~pois
        n, pr = 1.0 / a[nb], 1.0 / (1.0 + a[nb] * mu[nb])
        up[nb] = stats.nbinom.sf(y[nb] - 1, n, pr)
        dn[nb] = stats.nbinom.cdf(y[nb], n, pr)
    return up, dn


def fit_dispersion(y: np.ndarray, mu: np.ndarray,
                   coverages: tuple[float, ...] = (0.8, 0.9, 0.95), iters: int = 20) -> np.ndarray:
    """Per series (rows), the negative binomial dispersion ``a`` (variance mu + a·mu²): for each
    central coverage c, the ``a`` at which the share of days whose mid-PIT lies outside the
    model's central c interval equals 1 - c; the largest over ``coverages``. A quantile match:
    a few spike days cannot inflate it the way they inflate the Pearson statistic, and the
    widest coverage keeps the tail honest when the days are heavier-tailed than a negative
    binomial (a log-normal day-to-day level). 0 (Poisson) when no more spread than Poisson."""
    ok = np.isfinite(y) & np.isfinite(mu)
    yy, mm = np.where(ok, y, 0.0), np.where(ok, np.maximum(mu, 0.5), 1.0)
    n_ok = np.maximum(ok.sum(axis=1), 1)
    best = np.zeros(y.shape[0])
    for coverage in coverages:
        lo_q, hi_q = (1 - coverage) / 2, 1 - (1 - coverage) / 2

        def outside(a: np.ndarray, lo_q: float = lo_q, hi_q: float = hi_q) -> np.ndarray:
            up, dn = _nb_tails(yy, mm, a[:, None])
            mid = 0.5 * (dn + (1 - up))  # mid-PIT: (F(y-1) + F(y)) / 2
            return (((mid < lo_q) | (mid > hi_q)) & ok).sum(axis=1) / n_ok

        target = 1 - coverage
        need = outside(np.zeros(y.shape[0])) > target
        lo, hi = np.full(y.shape[0], np.log(1e-4)), np.full(y.shape[0], np.log(50.0))
        for _ in range(iters):
            mid = (lo + hi) / 2
            wide = outside(np.exp(mid)) > target  # still too many outside: more dispersion
            lo, hi = np.where(wide, mid, lo), np.where(wide, hi, mid)
        best = np.maximum(best, np.where(need, np.exp(hi), 0.0))
    return best


def _weekday_test(dev: np.ndarray, wd: np.ndarray) -> np.ndarray:
    """Kruskal-Wallis p per series of the log deviations from the level grouped by weekday."""
    p = np.ones(dev.shape[0])
    for i in range(dev.shape[0]):  # one test per series (tens to hundreds), not per day
        groups = [g[np.isfinite(g)] for g in (dev[i, wd == k] for k in range(7))]
        groups = [g for g in groups if len(g) >= 2]
        if len(groups) >= 2 and np.ptp(np.concatenate(groups)) > 0:
            p[i] = stats.kruskal(*groups).pvalue
    return p


def baseline(s: Series, o: AnomalyOptions | None = None) -> Baseline:
    """The weekday-aware robust baseline of every series (see module doc)."""
    o = o or AnomalyOptions()
    logv = np.log1p(s.values)
    n_s = logv.shape[0]
    if n_s == 0:
        z = np.zeros_like(logv)
        return Baseline(z, z, np.zeros((0, 7)), np.zeros(0), np.ones(0), np.zeros(0))
    level = (
        pd.DataFrame(logv.T)
        .rolling(o.window, center=True, min_periods=max(7, o.window // 4))
        .median()
        .to_numpy()
        .T
    )
    dev = logv - level
    wd = np.asarray(s.days.day_of_week)
    effect = np.zeros((n_s, 7))
    for k in range(7):
        cols = dev[:, wd == k]
        if cols.shape[1]:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                effect[:, k] = np.nan_to_num(np.nanmedian(cols, axis=1))
    wd_p = _weekday_test(dev, wd)
    effect[wd_p >= o.weekday_alpha] = 0.0  # a weekday pattern the data do not show is noise
    resid = dev - effect[:, wd]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(resid, axis=1, keepdims=True)
        scale = 1.4826 * np.nanmedian(np.abs(resid - med), axis=1)
    scale = np.maximum(np.nan_to_num(scale, nan=o.scale_floor), o.scale_floor)
    z = (resid - med) / scale[:, None]
    expected = np.maximum(np.expm1(level + effect[:, wd]), 0)
    nb_a = fit_dispersion(s.values, np.maximum(expected, 0.5))
    return Baseline(expected, z, effect, scale, wd_p, nb_a)


def _label(keys: pd.DataFrame, i: int) -> str:
    row = keys.iloc[i]
    parts = [str(row["host"])] if "host" in keys.columns else []
    if "dpt" in keys.columns:
        parts.append(f"{row.get('proto', '')}/{int(row['dpt'])}".lstrip("/"))
    return " ".join(parts) or "fleet"


def spike_tests(s: Series, dips: bool = True) -> int:
    """How many tests :func:`spikes` makes on ``s``: one per day in span, per direction."""
    return int(np.isfinite(s.values).sum()) * (2 if dips else 1)


def _family_text(family: int) -> str:
    return f"Bonferroni over {family:,} tests"


def fmt_p(p: float) -> str:
    """A probability in words for a ``why``: "p 3e-05"; below double precision "p < 1e-300"
    (never "p 0": a tail probability is never exactly zero)."""
    return "p < 1e-300" if p < 1e-300 else f"p {p:.1g}"


def spikes(s: Series, o: AnomalyOptions | None = None, metric: str = "packets",
           dips: bool = True, family: int | None = None, base: Baseline | None = None
           ) -> pd.DataFrame:
    """Days far above (spike) or below (dip) their baseline, with why.

    The tail probability is a negative binomial's (mean = the baseline, dispersion fitted per
    series by :func:`fit_dispersion`), Bonferroni-adjusted over ``family`` tests (default: the
    tests of this call, :func:`spike_tests`; :func:`anomalies` passes every test of its run).

    Columns: the series keys, day, kind, value, expected, ratio, z, p, p_adj, test, why.
    """
    o = o or AnomalyOptions()
    cols = [*s.keys.columns, "day", "kind", "value", "expected", "ratio", "z", "p", "p_adj",
            "test", "why"]
    if s.values.size == 0:
        return pd.DataFrame(columns=cols)
    b = baseline(s, o) if base is None else base
    m = spike_tests(s, dips) if family is None else family
    y = s.values
    mu = np.maximum(b.expected, 0.5)
    p_up, p_dn = _nb_tails(y, mu, b.nb_a[:, None])
    with np.errstate(all="ignore"):
        ratio = (y + 0.5) / (b.expected + 0.5)
    valid = np.isfinite(y) & np.isfinite(b.z)
    up = valid & (b.z >= o.z_min) & (y >= o.min_count) & (ratio >= o.min_ratio)
    up &= p_up * m < o.alpha
    dn = np.zeros_like(up)
    if dips:
        dn = valid & (b.z <= -o.z_min) & (b.expected >= 2 * o.min_count)
        dn &= (1 / ratio >= o.min_ratio) & (p_dn * m < o.alpha)
    rows = []
    unit = "distinct sources" if metric == "sources" else "packets"
    test = f"negative binomial tail, {_family_text(m)}"
    for kind, mask, p in (("spike", up, p_up), ("dip", dn, p_dn)):
        si, di = np.nonzero(mask)
        for i, d in zip(si.tolist(), di.tolist(), strict=True):
            day = s.days[d]
            padj = min(1.0, float(p[i, d] * m))
            e = float(b.expected[i, d])
            v = float(y[i, d])
            when = ("expected for that weekday" if b.weekday_p[i] < o.weekday_alpha
                    else "expected (no weekday pattern)")
            why = (
                f"{_label(s.keys, i)} on {WEEKDAYS[day.day_of_week]} {day.date()}: {v:,.0f} {unit} "
                f"vs {e:,.1f} {when} ({ratio[i, d]:.2g}x), robust z {b.z[i, d]:+.1f}; negative "
                f"binomial (dispersion {b.nb_a[i]:.2g}) {fmt_p(padj)} after {_family_text(m)}"
            )
            rec = dict(s.keys.iloc[i])
            rec.update(day=day.date(), kind=kind, value=v, expected=e, ratio=float(ratio[i, d]),
                       z=float(b.z[i, d]), p=float(p[i, d]), p_adj=padj, test=test, why=why)
            rows.append(rec)
    out = pd.DataFrame(rows, columns=cols)
    out.attrs["family"] = m
    return out.sort_values(["z"], ascending=False, key=np.abs).reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# changepoints


def pettitt(x: np.ndarray, min_seg: int = 1, autocorr: bool = False) -> tuple[int, float, float]:
    """Pettitt's test on ``x``: (split index k: change between x[k-1] and x[k], statistic K,
    approximate p-value 2·exp(-6K²/(n³+n²))).

    With ``autocorr`` the variance in that formula is inflated by the long-run variance factor of
    the ranks (the Brownian-bridge limit of the rank CUSUM holds with it): ranks centred within
    the two segments the split makes and around their 29-day centred rolling mean (slow wander
    and further changes are not day-to-day dependence), AR(1) factor (1+φ)/(1-φ) with φ their lag-1
    autocorrelation bias-corrected (by (1+4φ)/n for the sample size and by the (1+φ)/(1-φ)/29
    the rolling mean took out), or, when lag 2 is clearly there, the AR(1)-plus-noise factor
    from the lag-1 and lag-2 autocorrelations if larger. On simulated AR(1) noise at 0.3 / 0.5
    / 0.7 (plus white noise), p < 0.01 then fires in 0.7% / 1.3% / 1.6% of 190-day series
    (without it: 6% / 19% / 49%)."""
    n = len(x)
    if n < 2 * max(min_seg, 1):
        return 0, 0.0, 1.0
    r = stats.rankdata(x)
    k = np.arange(1, n)
    u = 2 * np.cumsum(r)[:-1] - k * (n + 1)
    ok = (k >= min_seg) & (n - k >= min_seg)
    u = np.where(ok, np.abs(u), -1)
    j = int(np.argmax(u))
    big_k = float(u[j])
    factor = _rank_lrv_factor(r, j + 1) if autocorr else 1.0
    p = min(1.0, 2 * np.exp(-6 * big_k**2 / ((n**3 + n**2) * factor)))
    return j + 1, big_k, p


def _rank_lrv_factor(r: np.ndarray, split: int) -> float:
    n = len(r)
    e = r.astype(float).copy()
    e[:split] -= e[:split].mean()
    e[split:] -= e[split:].mean()
    # slow wander and further level changes are not day-to-day dependence: take them out
    e -= pd.Series(e).rolling(29, center=True, min_periods=15).mean().to_numpy()
    g0 = float(np.mean(e * e))
    if g0 <= 0:
        return 1.0
    ac1 = float(np.mean(e[1:] * e[:-1])) / g0
    ac2 = float(np.mean(e[2:] * e[:-2])) / g0
    # small-sample bias (1+4φ)/n, and what the 29-day rolling mean took out of the dependence
    phi = min(0.95, max(0.0, ac1 + (1 + 4 * ac1) / n + (1 + ac1) / (1 - min(ac1, 0.9)) / 29))
    f_ar1 = (1 + phi) / (1 - phi)
    f_noise = 1.0
    if ac1 > 0.05 and ac2 > 2 / np.sqrt(n):  # only when lag 2 is clearly there: ac2/ac1 is noisy
        ph = min(0.95, ac2 / ac1)
        f_noise = 1 + 2 * (ac1 / ph) * ph / (1 - ph)
    return max(1.0, f_ar1, f_noise)


def changepoint_tests(s: Series, o: AnomalyOptions | None = None) -> int:
    """How many tests :func:`changepoints` counts on ``s``: one per series long enough."""
    o = o or AnomalyOptions()
    return int((np.isfinite(s.values).sum(axis=1) >= 2 * o.min_seg).sum()) if s.values.size else 0


def changepoints(s: Series, o: AnomalyOptions | None = None, metric: str = "packets",
                 family: int | None = None, base: Baseline | None = None) -> pd.DataFrame:
    """Level shifts per series, with why.

    Pettitt's test with the autocorrelation-inflated variance (:func:`pettitt`) on the
    weekday-adjusted log1p series. One test per series ("does this series change at all?"),
    Bonferroni over ``family`` tests (default: the series of this call; :func:`anomalies` passes
    every test of its run). Only inside a series that passed does binary segmentation look for
    further changes, each split held to the same threshold, so a series without change is
    flagged with probability below alpha / family whatever the segmentation does afterwards.

    Columns: series keys, day (first day of the new level), before, after (mean daily value),
    ratio, p, p_adj, test, why.
    """
    o = o or AnomalyOptions()
    cols = [*s.keys.columns, "day", "before", "after", "ratio", "p", "p_adj", "test", "why"]
    if s.values.size == 0:
        return pd.DataFrame(columns=cols)
    m = changepoint_tests(s, o) if family is None else family
    b = baseline(s, o) if base is None else base
    wd = np.asarray(s.days.day_of_week)
    adj = np.log1p(s.values) - b.weekday[:, wd]
    found: list[dict] = []
    for i in range(adj.shape[0]):
        idx = np.flatnonzero(np.isfinite(adj[i]))
        if len(idx) < 2 * o.min_seg:
            continue
        segs = [(idx[0], idx[-1] + 1)]
        n_found = 0
        while segs and n_found < o.max_changes:
            lo, hi = segs.pop(0)
            x = adj[i, lo:hi]
            k, _, p = pettitt(x, o.min_seg, autocorr=True)
            if k == 0 or p * m >= o.alpha:
                continue
            raw = s.values[i, lo:hi]
            before, after = float(np.mean(raw[:k])), float(np.mean(raw[k:]))
            ratio = (after + 0.5) / (before + 0.5)
            found.append(dict(i=i, d=lo + k, before=before, after=after, ratio=ratio, p=p,
                              n=hi - lo, lo=lo, hi=hi))
            n_found += 1
            segs += [(lo, lo + k), (lo + k, hi)]
    if not found:
        return pd.DataFrame(columns=cols)
    f = pd.DataFrame(found)
    f["p_adj"] = np.minimum(1.0, f["p"] * m)
    keep = np.maximum(f["ratio"], 1 / f["ratio"]) >= o.min_change
    keep &= np.maximum(f["before"], f["after"]) >= 1
    f = f[keep]
    unit = "distinct sources" if metric == "sources" else "packets"
    test = f"Pettitt, autocorrelation-adjusted, {_family_text(m)}"
    rows = []
    for r in f.itertuples():
        day = s.days[r.d]
        seg = f"{s.days[r.lo].date()}..{s.days[r.hi - 1].date()}"
        word = "rose" if r.after > r.before else "fell"
        adjusted = "weekday-adjusted" if b.weekday_p[r.i] < o.weekday_alpha else "no weekday pattern"
        rec = dict(s.keys.iloc[r.i])
        rec.update(
            day=day.date(), before=r.before, after=r.after, ratio=r.ratio, p=r.p, p_adj=r.p_adj,
            test=test,
            why=(f"{_label(s.keys, r.i)}: daily {unit} {word} from {r.before:,.1f} to "
                 f"{r.after:,.1f} on average ({r.ratio:.2f}x) from {day.date()}; Pettitt rank "
                 f"test over {seg} ({adjusted}, variance inflated for day-to-day "
                 f"autocorrelation) {fmt_p(r.p_adj)} after {_family_text(m)}"),
        )
        rows.append(rec)
    out = pd.DataFrame(rows, columns=cols)
    out.attrs["family"] = m
    return out.sort_values("p").reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# emerging ports


@dataclass
class _Emerging:
    keys: pd.DataFrame  # proto, dpt
    days: pd.DatetimeIndex
    sources: np.ndarray  # ports × days: fleet-wide distinct sources
    active: np.ndarray  # ports × days: sensors that saw the port
    reporting: np.ndarray  # days: sensors reporting (whole days in span)
    d_idx: np.ndarray  # window starts tested

    @property
    def tests(self) -> int:
        return len(self.keys) * len(self.d_idx)


def _emerging_data(t: ibis.Table, prior_days: int, surge_days: int, min_surge: int,
                   spans: pd.DataFrame | None = None) -> _Emerging | None:
    d = group_daily_expr(t, ("proto", "dpt"), "sources")
    keep = d.group_by(["proto", "dpt"]).aggregate(total=d.value.sum())
    keep = keep.filter(keep.total >= min_surge)
    df = d.semi_join(keep, ["proto", "dpt"]).execute()
    if df.empty:
        return None
    hd = group_daily_expr(t, ("host", "proto", "dpt"), "packets").semi_join(keep, ["proto", "dpt"])
    act = hd.group_by(["proto", "dpt", "day"]).aggregate(value=hd.count()).execute()
    spans = sensor_spans(t) if spans is None else spans
    fleet_span = pd.DataFrame({"host": ["fleet"], "first": [pd.to_datetime(spans["first"]).min()],
                               "last": [pd.to_datetime(spans["last"]).max()]})
    s = _dense(df, ["proto", "dpt"], fleet_span)
    if len(s.days) < prior_days + surge_days:
        return None
    a = _dense(act, ["proto", "dpt"], fleet_span)
    a_vals = s.keys.merge(a.keys.assign(_j=np.arange(len(a.keys))), on=["proto", "dpt"],
                          how="left")["_j"].to_numpy()
    active = a.values[a_vals.astype(int)] if len(a.keys) else np.zeros_like(s.values)
    first = pd.to_datetime(spans["first"]).to_numpy()[:, None]
    last = pd.to_datetime(spans["last"]).to_numpy()[:, None]
    dd = s.days.to_numpy()[None, :]
    reporting = ((first <= dd) & (dd <= last)).sum(axis=0).astype(float)
    active = np.minimum(active, reporting[None, :])
    d_idx = np.arange(prior_days, len(s.days) - surge_days + 1)
    return _Emerging(s.keys, s.days, s.values, active, reporting, d_idx)


def emerging_ports(
    t: ibis.Table,
    prior_days: int = 28,
    surge_days: int = 7,
    min_surge: int = 20,
    min_ratio: float = 5.0,
    alpha: float = 0.01,
    family: int | None = None,
    data: _Emerging | None = None,
) -> pd.DataFrame:
    """Ports that surge after being (nearly) unseen, across the fleet.

    The unit is the sensor-day (did this sensor see the port that day?), not the source-day:
    57 sources on one sensor on one day are one sensor-day, one sensor's burst, not a new port.
    For each port and window start d: k of the n sensor-days of the ``prior_days`` before d saw
    the port, and x of the N sensor-days of the ``surge_days`` from d. Under "nothing changed"
    the share is uncertain (k of n), so x is beta-binomial: N trials, Beta(k + ½, n − k + ½) (the
    Jeffreys posterior of the prior share; no floor). Flagged when the window holds at least
    ``min_surge`` distinct source-days fleet-wide, x ≥ ``min_ratio`` × N·(k+½)/(n+1), and the
    tail P(X ≥ x) is below alpha after Bonferroni over ``family`` tests (default: every
    port × window start of this call). The day reported is the first day of the surge: the first
    day of the first flagged window on which the port was seen (never before its first sighting).
    """
    cols = ["proto", "dpt", "day", "first_seen", "prior_mean", "surge", "sensor_days", "ratio",
            "p", "p_adj", "test", "why"]
    e = _emerging_data(t, prior_days, surge_days, min_surge) if data is None else data
    if e is None or e.tests == 0:
        return pd.DataFrame(columns=cols)
    m = e.tests if family is None else family
    d_idx = e.d_idx

    def window_sums(v: np.ndarray, lo_off: int, width: int) -> np.ndarray:
        c = np.concatenate([np.zeros((*v.shape[:-1], 1)), np.cumsum(v, axis=-1)], axis=-1)
        return c[..., d_idx + lo_off + width] - c[..., d_idx + lo_off]

    surge = window_sums(e.sources, 0, surge_days)
    prior_src = window_sums(e.sources, -prior_days, prior_days) / prior_days
    x = window_sums(e.active, 0, surge_days)
    k = window_sums(e.active, -prior_days, prior_days)
    big_n = np.broadcast_to(window_sums(e.reporting, 0, surge_days), x.shape)
    n = np.broadcast_to(window_sums(e.reporting, -prior_days, prior_days), x.shape)
    a_, b_ = k + 0.5, np.maximum(n - k, 0) + 0.5
    expect = big_n * a_ / (a_ + b_)
    gate = (surge >= min_surge) & (x >= min_ratio * expect)
    p = np.ones(x.shape)
    with np.errstate(all="ignore"):
        p[gate] = stats.betabinom.sf(x[gate] - 1, big_n[gate].astype(int), a_[gate], b_[gate])
    ok = gate & (p * m < alpha)
    seen = e.sources > 0
    first_any = np.argmax(seen, axis=1)
    test = f"beta-binomial on sensor-days, {_family_text(m)}"
    rows = []
    for i in np.flatnonzero(ok.any(axis=1)).tolist():
        j = int(np.argmax(ok[i]))
        d0 = int(d_idx[j])
        start = d0 + int(np.argmax(seen[i, d0:d0 + surge_days]))  # first day of the surge
        day = e.days[start]
        proto, dpt = e.keys.iloc[i]["proto"], int(e.keys.iloc[i]["dpt"])
        fs = e.days[first_any[i]].date()
        pr = float(prior_src[i, j])
        padj = min(1.0, float(p[i, j] * m))
        rows.append(dict(
            proto=proto, dpt=dpt, day=day.date(), first_seen=fs, prior_mean=pr,
            surge=float(surge[i, j]), sensor_days=float(x[i, j]),
            ratio=float(x[i, j] / expect[i, j]), p=float(p[i, j]), p_adj=padj, test=test,
            why=(f"{proto}/{dpt}: seen on {k[i, j]:.0f} of {n[i, j]:.0f} sensor-days in the "
                 f"{prior_days} days before {e.days[d0].date()}, then on {x[i, j]:.0f} of "
                 f"{big_n[i, j]:.0f} in {surge_days} days ({surge[i, j]:,.0f} source-days; "
                 f"surge from {day.date()}, first seen {fs}); beta-binomial {fmt_p(padj)} after "
                 f"{_family_text(m)}"),
        ))
    out = pd.DataFrame(rows, columns=cols)
    out.attrs["family"] = m
    return out.sort_values("p").reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# "is the rise of port 23 since May significant?"


def port_metric_expr(t: ibis.Table, proto: str = "TCP", port: int = 23) -> ibis.Table:
    """Part 2's metric for one port (:func:`honeyscope.analyse.explore.port_day_sources_expr`):
    per day, the mean over the sensors that saw the port that day of their distinct sources on
    it (``day``, ``value``, ``sensors``)."""
    m = port_day_sources_expr(t.filter((t.proto == proto) & (t.dpt == port)))
    return m.select("day", "value", "sensors")


def rise_test(
    t: ibis.Table, proto: str = "TCP", port: int = 23, split: date | str = "2013-05-01",
    metric: pd.DataFrame | None = None, spans: pd.DataFrame | None = None,
) -> dict:
    """Is the port's Part-2 metric higher from ``split`` on than before? Numbers and words.
    ``metric``: the result of :func:`port_metric_expr` when already executed; ``spans``: that of
    :func:`sensor_spans`."""
    split = pd.Timestamp(split).date()
    m = port_metric_expr(t, proto, port).order_by("day").execute() if metric is None else metric
    m = m.copy()
    m["day"] = pd.to_datetime(m["day"]).dt.date
    before = m.loc[m["day"] < split, "value"].to_numpy(float)
    after = m.loc[m["day"] >= split, "value"].to_numpy(float)
    res: dict = {"proto": proto, "port": port, "split": split, "days_before": len(before),
                 "days_after": len(after)}
    if len(before) < 3 or len(after) < 3:
        res["why"] = "too few days on one side of the split to test"
        return res
    u = stats.mannwhitneyu(after, before, alternative="greater")
    cles = float(u.statistic) / (len(before) * len(after))
    hl = float(np.median(np.subtract.outer(after, before)))
    res.update(
        median_before=float(np.median(before)), median_after=float(np.median(after)),
        mean_before=float(before.mean()), mean_after=float(after.mean()),
        mw_u=float(u.statistic), mw_p=float(u.pvalue), cles=cles,
        rank_biserial=2 * cles - 1, hodges_lehmann=hl,
    )
    res.update(_glm_rise(t, proto, port, split, spans))
    res["why"] = (
        f"{proto}/{port}, Part 2's metric (mean distinct sources per reporting sensor per day): "
        f"median {res['median_before']:.2f} on {len(before)} days before {split} vs "
        f"{res['median_after']:.2f} on {len(after)} days from it (Hodges-Lehmann shift "
        f"{hl:+.2f}); one-sided Mann-Whitney U {u.statistic:,.0f}, p {u.pvalue:.2g}; a day after "
        f"beats a day before with probability {cles:.2f}"
    )
    if "glm_why" in res:
        res["why"] += f"; {res['glm_why']}"
    if "rate_ratio" in res:
        res["why"] += (
            f"; quasi-Poisson GLM on sensor-days with sensor and weekday terms: rate ratio "
            f"{res['rate_ratio']:.2f} (95% CI {res['rr_low']:.2f}-{res['rr_high']:.2f}), "
            f"p {res['glm_p']:.2g}"
        )
    return res


def _glm_rise(t: ibis.Table, proto: str, port: int, split: date,
              spans: pd.DataFrame | None = None) -> dict:
    """Quasi-Poisson GLM: distinct sources per sensor-day ~ after + sensor + weekday.

    Defined on every input: sensors that never saw the port carry no information on the rate
    ratio (their own term would run off to -inf) and are left out; weekday terms are dropped
    when they cannot be told apart from the split (too few days); the dispersion is Pearson's
    X²/df but never below 1 (Poisson): under-dispersed or constant counts (30 a day, every day)
    are no reason for a confidence interval narrower than Poisson's, and X² = 0 would make it
    0/0. No rate ratio (``glm_why`` says why) when one side of the split holds no source at all."""
    # the GLM's own modules, not statsmodels.api (which imports all of statsmodels: 0.8 s of CPU
    # against 0.3 s)
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM
    from statsmodels.tools.tools import add_constant

    # each sensor's own span (not the port's first/last packet): zero days count
    s = series(t.filter((t.proto == proto) & (t.dpt == port)), ("host",), "sources", min_days=1,
               spans=sensor_spans(t) if spans is None else spans)
    if s.values.size == 0:
        return {}
    hosts, days = np.meshgrid(np.arange(len(s.keys)), np.arange(len(s.days)), indexing="ij")
    ok = np.isfinite(s.values)
    # sensors whose span is the whole fleet's: every sensor-day inside its span, zeros included
    df = pd.DataFrame({
        "y": s.values[ok],
        "host": s.keys["host"].to_numpy()[hosts[ok]],
        "day": s.days[days[ok]],
    })
    df["after"] = (df["day"].dt.date >= split).astype(float)
    df = df[df.groupby("host")["y"].transform("sum") > 0]  # a sensor that never saw the port
    if df["after"].nunique() < 2:
        return {}
    side = df.groupby("after")["y"].sum()
    if (side <= 0).any():
        return {"glm_why": "no rate ratio: no source on the port on one side of the split"}
    df["wd"] = df["day"].dt.day_of_week
    x = pd.get_dummies(df[["host", "wd"]].astype(str), drop_first=True, dtype=float)
    x.insert(0, "after", df["after"])
    x = add_constant(x)
    with blas.one_thread():  # a small fit: BLAS threads only wait for each other (analyse/blas.py)
        if np.linalg.matrix_rank(x.to_numpy()) < x.shape[1]:  # weekday terms confounded with the split
            x = x.drop(columns=[c for c in x.columns if c.startswith("wd_")])
            if np.linalg.matrix_rank(x.to_numpy()) < x.shape[1]:
                return {"glm_why": "no rate ratio: the split cannot be told apart from the sensors"}
        y = df["y"].to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = GLM(y, x, family=families.Poisson()).fit()
            df_resid = max(float(fit.df_resid), 1.0)
            scale = max(1.0, float(fit.pearson_chi2) / df_resid)
            if scale > 1.0:  # the quasi-Poisson refit: same estimates, wider standard errors
                fit = GLM(y, x, family=families.Poisson()).fit(scale=scale)
    b, se = float(fit.params["after"]), float(fit.bse["after"])
    return {
        "rate_ratio": float(np.exp(b)), "rr_low": float(np.exp(b - 1.96 * se)),
        "rr_high": float(np.exp(b + 1.96 * se)), "glm_p": float(fit.pvalues["after"]),
        "dispersion": scale, "sensor_days": len(df),
    }


# ----------------------------------------------------------------------------------------------
# one call for everything


def anomalies(
    t: ibis.Table,
    metric: str = "sources",
    top_ports: int = 30,
    min_days: int = 14,
    options: AnomalyOptions | None = None,
    spans: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Spikes, dips and changepoints per sensor (overall) and per sensor × port (the ``top_ports``
    busiest sensor-port series), plus emerging ports; one row per flag with ``scope``, ``kind``,
    ``day``, ``significance`` (p after Bonferroni over every test of this run), ``test`` (which
    test, and the family), ``effect`` (ratio) and ``why``. ``metric``: "sources", "packets" or
    "both" (both metrics' tests in one family). ``attrs["family"]``: the number of tests.
    ``spans``: the result of :func:`sensor_spans` when already known."""
    o = options or AnomalyOptions()
    metrics = METRICS[::-1] if metric == "both" else (metric,)
    if any(m not in METRICS for m in metrics):
        raise ValueError(f"metric must be one of {(*METRICS, 'both')}")
    spans = sensor_spans(t) if spans is None else spans
    runs = []
    for met in metrics:
        for scope, by, top in (("sensor", ("host",), None),
                               ("sensor-port", ("host", "proto", "dpt"), top_ports)):
            runs.append((met, scope, series(t, by, met, min_days=min_days, top=top, spans=spans)))
    em_data = _emerging_data(t, 28, 7, 20, spans)
    family = sum(spike_tests(s, dips=(scope == "sensor")) + changepoint_tests(s, o)
                 for _, scope, s in runs) + (em_data.tests if em_data is not None else 0)
    parts = []
    for met, scope, s in runs:
        b = baseline(s, o) if s.values.size else None
        sp = spikes(s, o, met, dips=(scope == "sensor"), family=family, base=b)
        cp = changepoints(s, o, met, family=family, base=b)
        for df, kind in ((sp, None), (cp, "changepoint")):
            if df.empty:
                continue
            parts.append(pd.DataFrame({
                "scope": scope,
                "metric": met,
                "host": df["host"],
                "port": (df["proto"].astype(str) + "/" + df["dpt"].astype(int).astype(str))
                if "dpt" in df.columns else "",
                "kind": df["kind"] if kind is None else kind,
                "day": df["day"],
                "significance": df["p_adj"].astype(float),
                "test": df["test"],
                "effect": df["ratio"].astype(float),
                "why": df["why"],
            }))
    em = emerging_ports(t, alpha=o.alpha, family=family, data=em_data)
    if not em.empty:
        parts.append(pd.DataFrame({
            "scope": "fleet-port", "metric": "sensor-days", "host": "",
            "port": em["proto"] + "/" + em["dpt"].astype(str), "kind": "emerging",
            "day": em["day"], "significance": em["p_adj"], "test": em["test"],
            "effect": em["ratio"], "why": em["why"],
        }))
    cols = ["scope", "metric", "host", "port", "kind", "day", "significance", "test", "effect",
            "why"]
    out = (pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols))
    out = out.sort_values(["significance", "day"]).reset_index(drop=True) if parts else out
    out.attrs["family"] = family
    return out
