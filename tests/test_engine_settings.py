"""The DuckDB connection's memory limit and spill directory (analyse/engine.py)."""

from __future__ import annotations

import os
import tempfile

import pytest

from honeyscope.analyse import engine


def _setting(con, name: str) -> str:
    return con.raw_sql(f"SELECT current_setting('{name}')").fetchone()[0]


def test_default_limit_and_spill_directory(monkeypatch):
    monkeypatch.delenv("HONEYSCOPE_MEMORY_LIMIT", raising=False)
    con = engine.connect()
    # 1GB is 10^9 bytes: 10^9 / 2^20 = 953.67 MiB, which DuckDB prints to one decimal
    assert _setting(con, "memory_limit") == "953.6 MiB"
    spill = _setting(con, "temp_directory")
    assert os.path.dirname(spill) == tempfile.gettempdir()
    assert os.path.basename(spill) == f"honeyscope-duckdb-{os.getpid()}"
    assert _setting(con, "TimeZone") == "UTC"


def test_limit_from_the_environment(monkeypatch):
    monkeypatch.setenv("HONEYSCOPE_MEMORY_LIMIT", "3GiB")
    assert _setting(engine.connect(), "memory_limit") == "3.0 GiB"


@pytest.mark.parametrize("value", ["lots", "1 parsec", "1GB'; SELECT 1; --"])
def test_bad_limit_is_a_one_line_error(monkeypatch, value):
    monkeypatch.setenv("HONEYSCOPE_MEMORY_LIMIT", value)
    with pytest.raises(ValueError, match=r"^HONEYSCOPE_MEMORY_LIMIT=.* is not a size DuckDB reads"):
        engine.connect()
