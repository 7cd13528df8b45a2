"""Ingest benchmark: ``wc -l`` vs the one-regex parser vs the naive per-field parser vs honeyscope.

Usage: ``python benchmarks/bench_ingest.py [--lines N] [--seed S] [--keep DIR]``

Generates N realistic lines (``honeyscope.synth.generate_lines``) into a file (cached by N and
seed), then runs each contender in its own subprocess on that file and prints lines/s, MB/s and
the peak RSS of each (``resource.getrusage(RUSAGE_CHILDREN)`` of a fresh wrapper process), and the
ratios honeyscope / one-regex (``regex_parser.py``: the strongest simple alternative, one ``re`` match
per line for the seed's columns) and honeyscope / naive (``naive_parser.py``: every column, per field).
honeyscope runs as a user runs it: ``python -m honeyscope ingest FILE --store DIR --json`` (with
``--block-mib``, ``honeyscope.ingest.run.ingest(inputs, store_dir, block_size=...)``);
``--parser-only`` adds ``parse_block`` over 64 MiB blocks with a Parquet write.

``--floor`` adds what no parser can take away, measured in the same run: a process that only
starts and imports what ``honeyscope ingest`` imports, and, single-threaded in one process,
reading the input in blocks, its SHA-256 (the ledger's "same input twice adds nothing") and
writing honeyscope's rows again as the store writes them (the Parquet parts of the honeyscope run
above, re-read and re-encoded). With the parse counted as free, the ingest cannot take less than
imports + (read + hash + Parquet) / cores of wall time; the script prints that bound and the
largest ratio to the one-regex parser it allows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

BLOCK = 64 * 1024 * 1024


def generate(path: Path, n: int, seed: int) -> None:
    from honeyscope.synth.lines import generate_lines

    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        buf: list[str] = []
        for line in generate_lines(n, seed):
            buf.append(line)
            if len(buf) >= 10000:
                fh.write("\n".join(buf) + "\n")
                buf = []
        if buf:
            fh.write("\n".join(buf) + "\n")
    tmp.rename(path)


def _lines_array(block: bytes):  # -> pa.LargeStringArray of the block's lines (with their \n)
    import numpy as np
    import pyarrow as pa

    data = np.frombuffer(block, np.uint8)
    nl = np.flatnonzero(data == 10)
    offsets = np.concatenate([[0], nl + 1]).astype(np.int64)
    if offsets[-1] != len(data):
        offsets = np.append(offsets, len(data))
    arr = pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(block)
    )
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:
        text = block.decode("utf-8", errors="replace").encode("utf-8")
        return _lines_array(text)
    return arr


def run_honeyscope(src: str, out_dir: str, parser_only: bool = False,
                   block_size: int | None = None) -> int:
    """honeyscope's ingest of one file (the lead's ingest() when present, unless parser_only);
    ``block_size``: bytes per parse block (default: ingest's own, 64 MiB for parser_only)."""
    try:
        from honeyscope.ingest.run import ingest  # type: ignore[attr-defined]
    except Exception:
        ingest = None
    if parser_only:
        ingest = None
    if ingest is not None:
        kw = {"block_size": block_size} if block_size else {}
        ingest([src], os.path.join(out_dir, "store"), **kw)
        return 0
    from datetime import UTC, datetime

    import pyarrow.parquet as pq

    from honeyscope import schema
    from honeyscope.ingest.parse import ParseContext, parse_block

    ctx = ParseContext(
        source=src, reference_time=datetime.fromtimestamp(os.stat(src).st_mtime, UTC)
    )
    writer = pq.ParquetWriter(os.path.join(out_dir, "rows.parquet"), schema.SCHEMA,
                              compression="zstd")
    first = 1
    rest = b""
    with open(src, "rb") as fh:
        while True:
            chunk = fh.read(block_size or BLOCK)
            if not chunk and not rest:
                break
            block = rest + chunk
            if chunk:
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    rest = block
                    continue
                block, rest = block[:cut], block[cut:]
            else:
                rest = b""
            arr = _lines_array(block)
            res = parse_block(arr, first, ctx)
            first += len(arr)
            writer.write_table(res.rows)
            if not chunk:
                break
    writer.close()
    return 0


#: what a ``honeyscope ingest`` process imports before it parses a line (tests/test_ingest_imports.py)
FLOOR_IMPORTS = ("import honeyscope.cli, honeyscope.cli.ingest, honeyscope.ingest.run, "
                 "honeyscope.ingest.parse, honeyscope.ingest.parse_fast, honeyscope.store.store")


def floor_steps(src: str, store: str) -> dict[str, float]:
    """CPU seconds, one thread, of the steps of an ingest that are not the parse: reading
    ``src`` in the ingest's blocks, hashing it, and encoding ``store``'s packets as its parts."""
    import hashlib
    import io

    import pyarrow.parquet as pq

    from honeyscope.ingest.sources import BLOCK
    from honeyscope.store.store import write_part

    out: dict[str, float] = {"read": 0.0, "sha256": 0.0}
    buf = bytearray(BLOCK)  # (one block's memory, reused: the ingest's blocks are freed and reused)
    view = memoryview(buf)
    h = hashlib.sha256()
    with open(src, "rb", buffering=0) as fh:
        while True:
            t = time.process_time()
            n = fh.readinto(buf)
            out["read"] += time.process_time() - t
            if not n:
                break
            t = time.process_time()
            h.update(view[:n])
            out["sha256"] += time.process_time() - t
    h.hexdigest()
    tables = [pq.read_table(p) for p in sorted(Path(store, "packets").rglob("*.parquet"))]
    t = time.process_time()
    for table in tables:
        write_part(table, io.BytesIO())
    out["parquet"] = time.process_time() - t
    out["parts"] = len(tables)
    return out


def measure(cmd: list[str]) -> dict:
    """Run ``cmd`` inside a fresh wrapper process; wall time and that child's peak RSS."""
    code = (
        "import json,resource,subprocess,sys,time;"
        "t=time.perf_counter();r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,"
        "stderr=sys.stderr);"
        "w=time.perf_counter()-t;u=resource.getrusage(resource.RUSAGE_CHILDREN);"
        "print(json.dumps({'rc':r.returncode,'wall':w,'rss_kb':u.ru_maxrss,"
        "'cpu':u.ru_utime+u.ru_stime}))"
    )
    out = subprocess.run([sys.executable, "-c", code, *cmd], stdout=subprocess.PIPE, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", default=None, help="directory for the generated file (cache)")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--parser-only", action="store_true",
                    help="also time parse_block over 64 MiB blocks + Parquet, without the store")
    ap.add_argument("--block-mib", type=int, default=None,
                    help="MiB per parse block (default: ingest's own; 64 for --parser-only)")
    ap.add_argument("--floor", action="store_true",
                    help="also measure the steps no parser can take away and print the bound they "
                    "set on the ratio")
    ap.add_argument("--child", nargs=2, metavar=("INPUT", "OUTDIR"), help=argparse.SUPPRESS)
    ap.add_argument("--child-floor", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--child-parser", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    block = a.block_mib * 1024 * 1024 if a.block_mib else None
    if a.child:
        return run_honeyscope(*a.child, block_size=block)
    if a.child_floor:
        print(json.dumps(floor_steps(*a.child_floor)))
        return 0
    if a.child_parser:
        return run_honeyscope(*a.child_parser, parser_only=True, block_size=block)
    opts = ["--block-mib", str(a.block_mib)] if a.block_mib else []

    cache = Path(a.keep or os.environ.get("HONEYSCOPE_BENCH_DIR", tempfile.gettempdir()))
    cache.mkdir(parents=True, exist_ok=True)
    data = cache / f"honeyscope-bench-{a.lines}-{a.seed}.log"
    if not data.exists():
        t = time.perf_counter()
        generate(data, a.lines, a.seed)
        print(f"generated {a.lines:,} lines in {time.perf_counter() - t:.1f} s -> {data}")
    mb = data.stat().st_size / 1e6
    print(f"input: {data} ({a.lines:,} lines, {mb:,.1f} MB)")
    print("load average (1, 5, 15 min) before: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    with tempfile.TemporaryDirectory() as out:
        runs = {"wc -l": ["wc", "-l", str(data)]}
        runs["one regex"] = [sys.executable, str(HERE / "regex_parser.py"), str(data),
                             os.path.join(out, "regex.parquet")]
        if not a.skip_naive:
            runs["naive re"] = [sys.executable, str(HERE / "naive_parser.py"), str(data),
                                os.path.join(out, "naive.parquet")]
        # as a user runs it: the command line, whole process (``--block-mib``: the API, which
        # takes a block size)
        runs["honeyscope"] = (
            [sys.executable, str(Path(__file__).resolve()), *opts, "--child", str(data), out]
            if opts else
            [sys.executable, "-m", "honeyscope", "ingest", str(data), "--store",
             os.path.join(out, "store"), "--json"])
        if a.parser_only:
            runs["parse_block"] = [sys.executable, str(Path(__file__).resolve()), *opts,
                                   "--child-parser", str(data), out]
        res = {}
        print(f"{'':12} {'lines/s':>12} {'MB/s':>8} {'wall s':>8} {'cpu s':>8} {'peak RSS':>10}")
        for name, cmd in runs.items():
            r = measure(cmd)
            res[name] = r
            print(f"{name:12} {a.lines / r['wall']:12,.0f} {mb / r['wall']:8.1f} "
                  f"{r['wall']:8.2f} {r['cpu']:8.2f} {r['rss_kb'] / 1024:8.0f} MB"
                  + ("" if r["rc"] == 0 else f"  (exit {r['rc']})"))
        for name in ("honeyscope", "parse_block"):
            for base in ("one regex", "naive re"):
                if base not in res or name not in res:
                    continue
                ratio = res[base]["wall"] / res[name]["wall"]
                cpu_ratio = res[base]["cpu"] / res[name]["cpu"]
                print(f"{name} / {base}: {ratio:.2f}x (wall), {cpu_ratio:.2f}x (cpu)")
        if a.floor and not opts:
            print_floor(res, str(data), os.path.join(out, "store"))
    print("load average (1, 5, 15 min) after: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


def print_floor(res: dict, data: str, store: str) -> None:
    """The bound the steps that are not the parse set on the ingest's wall time (see --floor)."""
    imp = min((measure([sys.executable, "-c", FLOOR_IMPORTS]) for _ in range(3)),
              key=lambda r: r["wall"])
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child-floor", data, store],
                         stdout=subprocess.PIPE, text=True, check=True)
    steps = json.loads(out.stdout.strip().splitlines()[-1])
    cores = len(os.sched_getaffinity(0))
    rest = steps["read"] + steps["sha256"] + steps["parquet"]
    bound = imp["wall"] + rest / cores
    print(f"floor: start + imports {imp['wall']:.3f} s wall ({imp['cpu']:.3f} CPU s, best of 3); "
          f"one thread: read {steps['read']:.3f}, SHA-256 {steps['sha256']:.3f}, "
          f"Parquet of the store's {steps['parts']} parts {steps['parquet']:.3f} CPU s")
    print(f"floor: with a parser that cost nothing, ingest >= {imp['wall']:.3f} + {rest:.3f} / "
          f"{cores} cores = {bound:.3f} s wall: at most {res['one regex']['wall'] / bound:.1f}x the "
          f"one-regex parser (measured: {res['one regex']['wall'] / res['honeyscope']['wall']:.2f}x)")


if __name__ == "__main__":
    raise SystemExit(main())
