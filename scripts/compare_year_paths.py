"""Compare the compiled parse path with the general one under ``--year``: rows, rejects,
warnings and the carried per-sensor year state, block by block, for every file given (plain or
gzip; directories recursively).

    PYTHONPATH=src python scripts/compare_year_paths.py --year 2024 --year 2023 --block-kib 64 DIR...

The general path is the reference (HONEYSCOPE_PARSE_FALLBACK=1). Prints one line per file with a
difference, then the totals; exit 1 on any difference.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from honeyscope.ingest import parse, parse_fast


def blocks(data: bytes, size: int) -> list[bytes]:
    """``data`` cut after a newline every ``size`` bytes or so (whole lines, as the reader)."""
    out = []
    at = 0
    while at < len(data):
        end = data.rfind(b"\n", at, at + size)
        end = len(data) if at + size >= len(data) or end < 0 else end + 1
        out.append(data[at:end])
        at = end
    return out


def run(data: bytes, name: str, year: int, size: int, fallback: bool, tz: str
        ) -> tuple[pa.Table, pa.Table, dict, dict]:
    os.environ[parse_fast.FALLBACK_ENV] = "1" if fallback else "0"
    ctx = parse.ParseContext(source=name, reference_time=datetime(2026, 12, 1, tzinfo=UTC), year=year,
                             tz=tz, sensor=Path(name).name)
    rows, rejects, warn = [], [], {}
    line = 1
    for b in blocks(data, size):
        res, n = parse.parse_bytes(b, line, ctx)
        line += n
        r = res.rows
        if res.layout is not None:  # (store order: back to line order to compare)
            r = r.sort_by("line")
        rows.append(r)
        rejects.append(res.rejects)
        for k, v in res.warnings.items():
            warn[k] = warn.get(k, 0) + v
    empty = parse.parse_lines([], year=year)
    return (pa.concat_tables(rows) if rows else empty.rows,
            pa.concat_tables(rejects) if rejects else empty.rejects, warn,
            dict(ctx.state.get("bsd_sensor_years", {})))


def files(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p])
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--year", type=int, action="append", required=True)
    ap.add_argument("--block-kib", type=int, action="append", default=None)
    ap.add_argument("--tz", default="UTC")
    a = ap.parse_args()
    sizes = [k * 1024 for k in (a.block_kib or [8192])]
    diffs = lines = nrows = 0
    for f in files(a.paths):
        data = f.read_bytes()
        if data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except Exception:
                continue
        lines += data.count(b"\n") * len(a.year) * len(sizes)
        for year in a.year:
            for size in sizes:
                fast = run(data, str(f), year, size, False, a.tz)
                ref = run(data, str(f), year, size, True, a.tz)
                nrows += ref[0].num_rows
                what = [k for k, x, y in zip(("rows", "rejects"), fast[:2], ref[:2], strict=True)
                        if not x.equals(y)]
                what += [k for k, x, y in zip(("warnings", "state"), fast[2:], ref[2:], strict=True)
                         if x != y]
                if what:
                    diffs += 1
                    print(f"DIFF {f} year={year} block={size}: {', '.join(what)}")
    print(f"{lines} lines x years x block sizes compared, {nrows} rows; {diffs} differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
