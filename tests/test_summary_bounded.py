"""summary's bounded-memory paths: exact quartiles from value counts, approximate past a limit."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from honeyscope import schema
from honeyscope.analyse import engine, explore


def _table(values: dict[str, np.ndarray]) -> pa.Table:
    n = len(next(iter(values.values())))
    cols = {"time": pa.array(np.arange(n) * 1_000_000, pa.int64()).cast(schema.TIME_TYPE),
            "host": pa.array(["h"] * n)}
    cols |= {k: pa.array(v) for k, v in values.items()}
    return schema.conform(pa.table(cols))


def _numbers(s, column: str) -> dict:
    b = s[(s["column"] == column) & (s["kind"] == "numeric")]
    return dict(zip(b["stat"], b["value"], strict=True))


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 1001])
def test_quartiles_from_counts_equal_type7(n):
    rng = np.random.default_rng(n)
    spt = rng.integers(0, 50, size=n).astype(np.uint16)  # many ties: interpolation between runs
    ip_id = rng.integers(0, 1 << 31, size=n).astype(np.uint32)
    ttl = np.full(n, 64, np.uint8)
    t = engine.packets_from_arrow(engine.connect(),
                                  _table({"spt": spt, "ip_id": ip_id, "ttl": ttl}))
    s = explore.summary(t, ["spt", "ip_id", "ttl"])
    assert s.attrs["approximate"] == []
    for c, v in (("spt", spt), ("ip_id", ip_id), ("ttl", ttl)):
        got = _numbers(s, c)
        want = np.percentile(v.astype(np.float64), [25, 50, 75])  # numpy's 'linear' = R type 7
        assert [got["1st Qu."], got["Median"], got["3rd Qu."]] == pytest.approx(
            want.tolist(), rel=1e-15, abs=0)
        assert got["Min."] == v.min() and got["Max."] == v.max()


def test_summary_quartiles_match_duckdb_quantile_on_marx(marx):
    """The value-count quartiles are DuckDB's exact quantile_cont, to the bit."""
    s = explore.summary(marx, ["src_int", "spt", "dpt"])
    for c in ("src_int", "spt", "dpt"):
        x = marx[c].cast("float64")
        q = marx.aggregate(q=x.quantile([0.25, 0.5, 0.75])).execute()["q"].iloc[0]
        got = _numbers(s, c)
        assert [got["1st Qu."], got["Median"], got["3rd Qu."]] == list(q)
    assert _numbers(s, "src_int")["Median"] == 2031191236.0


def test_many_distinct_values_give_approximate_quartiles(marx, monkeypatch):
    exact = explore.summary(marx, ["src_int", "dpt", "proto"])
    # src_int has ~70k distinct values, dpt ~4k
    monkeypatch.setattr(explore, "EXACT_LEVELS", 10_000)
    approx = explore.summary(marx, ["src_int", "dpt", "proto"])
    assert approx.attrs["approximate"] == ["src_int"]
    a, e = _numbers(approx, "src_int"), _numbers(exact, "src_int")
    for stat in ("Min.", "Mean", "Max."):
        assert a[stat] == e[stat]  # never approximated
    for stat in ("1st Qu.", "Median", "3rd Qu."):
        assert a[stat] == pytest.approx(e[stat], rel=0.02)
    # everything but the approximated quartiles is unchanged
    keep = ~(approx["column"].isin(approx.attrs["approximate"])
             & approx["stat"].isin(["1st Qu.", "Median", "3rd Qu."]))
    assert approx[keep].reset_index(drop=True).equals(exact[keep].reset_index(drop=True))
