"""Shared fixtures: the bundled marx data set as the canonical table, in Arrow and in Ibis."""

from __future__ import annotations

import gzip
import importlib.util
import shutil
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pytest

TESTS = Path(__file__).parent
DATA = TESTS / "data"
#: Other projects' logs: read from ``../shared/corpus`` next to the repository, never copied into it.
SHARED_CORPUS = TESTS.resolve().parent.parent / "shared" / "corpus"


def corpus(*parts: str) -> Path:
    """Path of ``../shared/corpus/<parts>`` (relative to the repository root); skips the calling
    test, with the reason, when it is absent."""
    path = SHARED_CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared corpus {path} is absent (other projects' logs are not in the repository)",
                    allow_module_level=True)
    return path


def spark_missing() -> str | None:
    """Why the Spark tests cannot run here (pyspark or Java missing), or None when they can."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (the spark extra: pip install -e '.[spark]')"
    if shutil.which("java") is None:
        return "Spark needs Java (java not on PATH)"
    return None


#: Skips a test, with the reason, where Spark cannot start.
needs_spark = pytest.mark.skipif(spark_missing() is not None, reason=spark_missing() or "")


def bundled(name: str) -> Path:
    return Path(str(resources.files("honeyscope") / "data" / name))


@pytest.fixture(scope="session")
def marx_arrow() -> pa.Table:
    """The 451,581 packets of marx.csv.gz, in the canonical schema."""
    from honeyscope.ingest.seed_csv import read_seed_csv

    path = bundled("marx.csv.gz")
    return read_seed_csv(gzip.open(path).read(), source=str(path)).rows


@pytest.fixture(scope="session")
def marx_parquet(marx_arrow, tmp_path_factory) -> Path:
    import pyarrow.parquet as pq

    out = tmp_path_factory.mktemp("marx") / "marx.parquet"
    pq.write_table(marx_arrow, out)
    return out


@pytest.fixture()
def marx(marx_parquet):
    """The marx packets as an Ibis table on a fresh in-process DuckDB."""
    from honeyscope.analyse import engine

    con = engine.connect()
    return engine.packets_from_files(con, [marx_parquet])


# -- helpers shared by several test files ------------------------------------------------------


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    """``honeyscope.cli.main(argv)``: its exit code, stdout and stderr."""
    from honeyscope.cli import main

    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def wait_until(cond, timeout: float = 10, step: float = 0.02) -> None:
    """Poll ``cond()`` until it is true or ``timeout`` seconds have passed."""
    import time

    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(step)


def canonical(rows: list[dict], **defaults) -> pa.Table:
    """Packets written as dicts (a key missing from a row: ``defaults``, else null) as a table of
    the canonical schema."""
    from honeyscope import schema

    cols: dict[str, list] = {}
    for i, r in enumerate(rows):
        r = {**defaults, **r}
        for k in set(cols) | set(r):
            cols.setdefault(k, [None] * i).append(r.get(k))
    return schema.conform(pa.table({k: pa.array(v, schema.SCHEMA.field(k).type) for k, v in cols.items()}))
