"""Trends and anomalies per sensor and per sensor × port, each flag with its reason in words.

Daily series are aggregated with Ibis (portable ops only); the statistics run on the small dense
series matrix (series × days) with numpy/scipy/statsmodels.

* **Baseline** (weekday-aware, robust): on ``log1p(value)``, a centred 29-day rolling median
  (the level) plus, per series, the median deviation of each weekday from that level. The expected
  value of a day is ``expm1(level + weekday effect)``.
* **Spike / dip**: robust z of the day's residual (residual / (1.4826 × MAD of the series'
  residuals)); a spike needs ``z >= z_min``, at least ``min_count``, ``ratio >= min_ratio`` and a
  Poisson tail probability below ``alpha`` after Bonferroni over the days of the series.
* **Changepoint**: Pettitt's rank test (the Mann–Whitney statistic maximised over split days,
  with its approximate p-value for the maximum) on the weekday-adjusted series, by binary
  segmentation; Benjamini–Hochberg across series; effect = ratio of the mean daily values after
  and before.
* **Emerging port**: a port (fleet-wide daily distinct sources) whose 7-day total after some day
  is far above its mean of the 28 days before (Poisson tail, Bonferroni over days and ports).
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

METRICS = ("packets", "sources")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _day(t: ibis.Table) -> ibis.Value:
    return t.time.date()


# ----------------------------------------------------------------------------------------------
# daily series


def daily_expr(
    t: ibis.Table, by: tuple[str, ...] = ("host",), metric: str = "packets"
) -> ibis.Table:
    """Daily value per group: ``by`` columns, ``day`` (UTC date), ``value`` (rows or distinct src)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}")
    t = t.filter(t.time.notnull())  # rows without a wall clock (dmesg) have no day
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
    d = daily_expr(t, by, metric)
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
    sp = t.group_by("host").aggregate(first=t.time.min(), last=t.time.max()).execute()
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
    df = df[(df["day"] >= days[0]) & (df["day"] <= days[-1])] if len(days) else df.iloc[:0]
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
    alpha: float = 0.01  # significance after Bonferroni / Benjamini-Hochberg
    scale_floor: float = 0.1  # floor of the residual scale (log1p units)
    min_seg: int = 14  # shortest segment around a changepoint, days
    min_change: float = 1.5  # changepoint: mean after / before (or its inverse) at least this
    max_changes: int = 3  # changepoints per series


@dataclass
class Baseline:
    expected: np.ndarray  # S×D expected value
    z: np.ndarray  # S×D robust z of log1p residual
    weekday: np.ndarray  # S×7 weekday effect (log1p units)
    scale: np.ndarray  # S residual scale


def baseline(s: Series, o: AnomalyOptions | None = None) -> Baseline:
    """The weekday-aware robust baseline of every series (see module doc)."""
    o = o or AnomalyOptions()
    logv = np.log1p(s.values)
    n_s = logv.shape[0]
    if n_s == 0:
        z = np.zeros_like(logv)
        return Baseline(z, z, np.zeros((0, 7)), np.zeros(0))
    level = (
        pd.DataFrame(logv.T)
        .rolling(o.window, center=True, min_periods=max(7, o.window // 4))
        .median()
        .to_numpy()
        .T
    )
    dev = logv - level
    wd = np.asarray(s.days.dayofweek)
    effect = np.zeros((n_s, 7))
    for k in range(7):
        cols = dev[:, wd == k]
        if cols.shape[1]:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                effect[:, k] = np.nan_to_num(np.nanmedian(cols, axis=1))
    resid = dev - effect[:, wd]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(resid, axis=1, keepdims=True)
        scale = 1.4826 * np.nanmedian(np.abs(resid - med), axis=1)
    scale = np.maximum(np.nan_to_num(scale, nan=o.scale_floor), o.scale_floor)
    z = (resid - med) / scale[:, None]
    expected = np.expm1(level + effect[:, wd])
    return Baseline(np.maximum(expected, 0), z, effect, scale)


def _label(keys: pd.DataFrame, i: int) -> str:
    row = keys.iloc[i]
    parts = [str(row["host"])] if "host" in keys.columns else []
    if "dpt" in keys.columns:
        parts.append(f"{row.get('proto', '')}/{int(row['dpt'])}".lstrip("/"))
    return " ".join(parts) or "fleet"


def spikes(s: Series, o: AnomalyOptions | None = None, metric: str = "packets",
           dips: bool = True) -> pd.DataFrame:
    """Days far above (spike) or below (dip) their weekday-aware baseline, with why.

    Columns: the series keys, day, kind, value, expected, ratio, z, p_adj, why.
    """
    o = o or AnomalyOptions()
    b = baseline(s, o)
    cols = [*s.keys.columns, "day", "kind", "value", "expected", "ratio", "z", "p_adj", "why"]
    if s.values.size == 0:
        return pd.DataFrame(columns=cols)
    y = s.values
    mu = np.maximum(b.expected, 0.5)
    n_days = np.isfinite(y).sum(axis=1, keepdims=True)
    with np.errstate(all="ignore"):
        p_up = stats.poisson.sf(np.nan_to_num(y) - 1, mu)
        p_dn = stats.poisson.cdf(np.nan_to_num(y), mu)
        ratio = (y + 0.5) / (b.expected + 0.5)
    valid = np.isfinite(y) & np.isfinite(b.z)
    up = valid & (b.z >= o.z_min) & (y >= o.min_count) & (ratio >= o.min_ratio)
    up &= p_up * n_days < o.alpha
    dn = np.zeros_like(up)
    if dips:
        dn = valid & (b.z <= -o.z_min) & (b.expected >= 2 * o.min_count)
        dn &= (1 / ratio >= o.min_ratio) & (p_dn * n_days < o.alpha)
    rows = []
    unit = "distinct sources" if metric == "sources" else "packets"
    for kind, mask, p in (("spike", up, p_up), ("dip", dn, p_dn)):
        si, di = np.nonzero(mask)
        for i, d in zip(si.tolist(), di.tolist(), strict=True):
            day = s.days[d]
            padj = min(1.0, float(p[i, d] * n_days[i, 0]))
            e = float(b.expected[i, d])
            v = float(y[i, d])
            why = (
                f"{_label(s.keys, i)} on {WEEKDAYS[day.dayofweek]} {day.date()}: {v:,.0f} {unit} "
                f"vs {e:,.1f} expected for that weekday ({ratio[i, d]:.2g}x), "
                f"robust z {b.z[i, d]:+.1f}, Poisson p {padj:.1g} after Bonferroni over "
                f"{int(n_days[i, 0])} days"
            )
            rec = dict(s.keys.iloc[i])
            rec.update(day=day.date(), kind=kind, value=v, expected=e, ratio=float(ratio[i, d]),
                       z=float(b.z[i, d]), p_adj=padj, why=why)
            rows.append(rec)
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["z"], ascending=False, key=np.abs).reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# changepoints


def pettitt(x: np.ndarray, min_seg: int = 1) -> tuple[int, float, float]:
    """Pettitt's test on ``x``: (split index k: change between x[k-1] and x[k], statistic K,
    approximate p-value 2·exp(-6K²/(n³+n²)))."""
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
    p = min(1.0, 2 * np.exp(-6 * big_k**2 / (n**3 + n**2)))
    return j + 1, big_k, p


def changepoints(s: Series, o: AnomalyOptions | None = None, metric: str = "packets"
                 ) -> pd.DataFrame:
    """Level shifts per series (Pettitt + binary segmentation on the weekday-adjusted log1p series;
    Benjamini–Hochberg across all tests), with why.

    Columns: series keys, day (first day of the new level), before, after (mean daily value),
    ratio, p, q, why.
    """
    o = o or AnomalyOptions()
    cols = [*s.keys.columns, "day", "before", "after", "ratio", "p", "q", "why"]
    if s.values.size == 0:
        return pd.DataFrame(columns=cols)
    b = baseline(s, o)
    wd = np.asarray(s.days.dayofweek)
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
            k, _, p = pettitt(x, o.min_seg)
            if k == 0:
                continue
            raw = s.values[i, lo:hi]
            before, after = float(np.mean(raw[:k])), float(np.mean(raw[k:]))
            ratio = (after + 0.5) / (before + 0.5)
            found.append(dict(i=i, d=lo + k, before=before, after=after, ratio=ratio, p=p,
                              n=hi - lo, lo=lo, hi=hi))
            if p < o.alpha:
                n_found += 1
                segs += [(lo, lo + k), (lo + k, hi)]
    if not found:
        return pd.DataFrame(columns=cols)
    f = pd.DataFrame(found)
    f["q"] = stats.false_discovery_control(f["p"].to_numpy())
    keep = (f["q"] < o.alpha) & (np.maximum(f["ratio"], 1 / f["ratio"]) >= o.min_change)
    keep &= np.maximum(f["before"], f["after"]) >= 1
    f = f[keep]
    unit = "distinct sources" if metric == "sources" else "packets"
    rows = []
    for r in f.itertuples():
        day = s.days[r.d]
        seg = f"{s.days[r.lo].date()}..{s.days[r.hi - 1].date()}"
        word = "rose" if r.after > r.before else "fell"
        rec = dict(s.keys.iloc[r.i])
        rec.update(
            day=day.date(), before=r.before, after=r.after, ratio=r.ratio, p=r.p, q=r.q,
            why=(f"{_label(s.keys, r.i)}: daily {unit} {word} from {r.before:,.1f} to "
                 f"{r.after:,.1f} on average ({r.ratio:.2f}x) from {day.date()}; Pettitt rank "
                 f"test over {seg} (weekday-adjusted) p {r.p:.1g}, BH q {r.q:.1g}"),
        )
        rows.append(rec)
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values("p").reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# emerging ports


def emerging_ports(
    t: ibis.Table,
    prior_days: int = 28,
    surge_days: int = 7,
    min_surge: int = 20,
    min_ratio: float = 5.0,
    alpha: float = 0.01,
) -> pd.DataFrame:
    """Ports (fleet-wide daily distinct sources) that surge after being (nearly) unseen.

    For each port and day d: ``surge`` = sum of the daily values of days d..d+surge_days-1,
    ``prior`` = mean daily value over the ``prior_days`` before d (floored at 1/prior_days).
    Flagged (first qualifying day per port) when surge >= min_surge, surge/(surge_days·prior)
    >= min_ratio, and the Poisson tail P(X >= surge | surge_days·prior) is below alpha after
    Bonferroni over all port-days tested.
    """
    cols = ["proto", "dpt", "day", "first_seen", "prior_mean", "surge", "ratio", "p_adj", "why"]
    d = daily_expr(t, ("proto", "dpt"), "sources")
    keep = d.group_by(["proto", "dpt"]).aggregate(total=d.value.sum())
    keep = keep.filter(keep.total >= min_surge)
    df = d.semi_join(keep, ["proto", "dpt"]).execute()
    if df.empty:
        return pd.DataFrame(columns=cols)
    span = sensor_spans(t.mutate(host=ibis.literal("fleet")))
    s = _dense(df, ["proto", "dpt"], span)
    y = s.values
    n_s, n_d = y.shape
    if n_d < prior_days + surge_days:
        return pd.DataFrame(columns=cols)
    c = np.concatenate([np.zeros((n_s, 1)), np.cumsum(y, axis=1)], axis=1)
    d_idx = np.arange(prior_days, n_d - surge_days + 1)
    surge = c[:, d_idx + surge_days] - c[:, d_idx]
    prior = (c[:, d_idx] - c[:, d_idx - prior_days]) / prior_days
    mu = np.maximum(prior, 1.0 / prior_days) * surge_days
    n_tests = surge.size
    with np.errstate(all="ignore"):
        p = stats.poisson.sf(surge - 1, mu) * n_tests
    ok = (surge >= min_surge) & (surge / mu >= min_ratio) & (p < alpha)
    first_any = np.argmax(y > 0, axis=1)
    rows = []
    for i in np.flatnonzero(ok.any(axis=1)).tolist():
        j = int(np.argmax(ok[i]))
        day = s.days[d_idx[j]]
        proto, dpt = s.keys.iloc[i]["proto"], int(s.keys.iloc[i]["dpt"])
        fs = s.days[first_any[i]].date()
        pr = float(prior[i, j])
        rows.append(dict(
            proto=proto, dpt=dpt, day=day.date(), first_seen=fs, prior_mean=pr,
            surge=float(surge[i, j]), ratio=float(surge[i, j] / mu[i, j]),
            p_adj=min(1.0, float(p[i, j])),
            why=(f"{proto}/{dpt}: {pr:.2f} sources/day over the {prior_days} days before "
                 f"{day.date()}, then {surge[i, j]:,.0f} source-days in {surge_days} days "
                 f"({surge[i, j] / mu[i, j]:.0f}x; first seen {fs}); Poisson p "
                 f"{min(1.0, float(p[i, j])):.1g} after Bonferroni over {n_tests:,} port-days"),
        ))
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values("p_adj").reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# "is the rise of port 23 since May significant?"


def port_metric_expr(t: ibis.Table, proto: str = "TCP", port: int = 23) -> ibis.Table:
    """Part 2's metric for one port: per day, the mean over the sensors that saw the port that
    day of their distinct sources on it (``day``, ``value``, ``sensors``)."""
    p = t.filter((t.proto == proto) & (t.dpt == port) & t.time.notnull())
    per = p.group_by([_day(p).name("day"), p.host]).aggregate(n=p.src.nunique())
    return per.group_by("day").aggregate(value=per.n.mean(), sensors=per.count())


def rise_test(
    t: ibis.Table, proto: str = "TCP", port: int = 23, split: date | str = "2013-05-01",
    metric: pd.DataFrame | None = None,
) -> dict:
    """Is the port's Part-2 metric higher from ``split`` on than before? Numbers and words.
    ``metric``: the result of :func:`port_metric_expr` when already executed."""
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
    res.update(_glm_rise(t, proto, port, split))
    res["why"] = (
        f"{proto}/{port}, Part 2's metric (mean distinct sources per reporting sensor per day): "
        f"median {res['median_before']:.2f} on {len(before)} days before {split} vs "
        f"{res['median_after']:.2f} on {len(after)} days from it (Hodges-Lehmann shift "
        f"{hl:+.2f}); one-sided Mann-Whitney U {u.statistic:,.0f}, p {u.pvalue:.2g}; a day after "
        f"beats a day before with probability {cles:.2f}"
    )
    if "rate_ratio" in res:
        res["why"] += (
            f"; quasi-Poisson GLM on sensor-days with sensor and weekday terms: rate ratio "
            f"{res['rate_ratio']:.2f} (95% CI {res['rr_low']:.2f}-{res['rr_high']:.2f}), "
            f"p {res['glm_p']:.2g}"
        )
    return res


def _glm_rise(t: ibis.Table, proto: str, port: int, split: date) -> dict:
    """Quasi-Poisson GLM: distinct sources per sensor-day ~ after + sensor + weekday."""
    import statsmodels.api as sm

    s = series(t.filter((t.proto == proto) & (t.dpt == port)), ("host",), "sources", min_days=1)
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
    df["wd"] = df["day"].dt.dayofweek
    x = pd.get_dummies(df[["host", "wd"]].astype(str), drop_first=True, dtype=float)
    x.insert(0, "after", df["after"])
    x = sm.add_constant(x)
    if df["after"].nunique() < 2:
        return {}
    fit = sm.GLM(df["y"].to_numpy(), x, family=sm.families.Poisson()).fit(scale="X2")
    b, se = float(fit.params["after"]), float(fit.bse["after"])
    return {
        "rate_ratio": float(np.exp(b)), "rr_low": float(np.exp(b - 1.96 * se)),
        "rr_high": float(np.exp(b + 1.96 * se)), "glm_p": float(fit.pvalues["after"]),
        "dispersion": float(fit.scale), "sensor_days": len(df),
    }


# ----------------------------------------------------------------------------------------------
# one call for everything


def anomalies(
    t: ibis.Table,
    metric: str = "sources",
    top_ports: int = 30,
    min_days: int = 14,
    options: AnomalyOptions | None = None,
) -> pd.DataFrame:
    """Spikes, dips and changepoints per sensor (overall) and per sensor × port (the ``top_ports``
    busiest sensor-port series), plus emerging ports; one row per flag with ``scope``, ``kind``,
    ``day``, ``significance`` (adjusted p or q), ``effect`` (ratio) and ``why``."""
    o = options or AnomalyOptions()
    parts = []
    spans = sensor_spans(t)
    for scope, by, top in (("sensor", ("host",), None),
                           ("sensor-port", ("host", "proto", "dpt"), top_ports)):
        s = series(t, by, metric, min_days=min_days, top=top, spans=spans)
        sp = spikes(s, o, metric, dips=(scope == "sensor"))
        cp = changepoints(s, o, metric)
        for df, sig, kind in ((sp, "p_adj", None), (cp, "q", "changepoint")):
            if df.empty:
                continue
            parts.append(pd.DataFrame({
                "scope": scope,
                "host": df["host"],
                "port": (df["proto"].astype(str) + "/" + df["dpt"].astype(int).astype(str))
                if "dpt" in df.columns else "",
                "kind": df["kind"] if kind is None else kind,
                "day": df["day"],
                "significance": df[sig].astype(float),
                "effect": df["ratio"].astype(float),
                "why": df["why"],
            }))
    em = emerging_ports(t)
    if not em.empty:
        parts.append(pd.DataFrame({
            "scope": "fleet-port", "host": "", "port": em["proto"] + "/" + em["dpt"].astype(str),
            "kind": "emerging", "day": em["day"], "significance": em["p_adj"],
            "effect": em["ratio"], "why": em["why"],
        }))
    cols = ["scope", "host", "port", "kind", "day", "significance", "effect", "why"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)[cols]
    return out.sort_values(["significance", "day"]).reset_index(drop=True)
