"""The strongest simple baseline: ONE compiled regular expression per line, as a user writes it.

What a user who needs the seed's columns writes first: a single ``re`` match per line that pulls the
time, host, SRC, DST, LEN, TTL (or HOPLIMIT), ID, PROTO, SPT, DPT, TYPE and CODE, the values kept as
they come (ints, strings), rows gathered in plain lists and written as Parquet in 100k-row batches.
No validation, no embedded-header handling (the ICMP error's inner SRC is skipped only because the
regex stops at the first ``SPT=``/``TYPE=``), no IPv4-as-integer. Lines the regex does not match
(other syslog lines, journald JSON without a syslog header) are counted and skipped.

This is much faster than ``naive_parser.py`` (a per-field parser of every column) and is the
baseline the README quotes.

Usage: ``python benchmarks/regex_parser.py INPUT OUTPUT.parquet [--year Y]``
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

LINE = re.compile(
    rb"^(?:<\d+>)?(?:(?P<bsd>[A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d)|(?P<iso>\d{4}-\d\d-\d\dT\S+)) "
    rb"(?P<host>\S+) .*?SRC=(?P<src>\S+) DST=(?P<dst>\S+) LEN=(?P<len>\d+) "
    rb".*?(?:TTL|HOPLIMIT)=(?P<ttl>\d+)(?: ID=(?P<id>\d+))?.*? PROTO=(?P<proto>\S+)"
    rb"(?: SPT=(?P<spt>\d+) DPT=(?P<dpt>\d+)| TYPE=(?P<type>\d+) CODE=(?P<code>\d+))?"
)
BATCH = 100_000
SCHEMA = pa.schema([
    ("time", pa.timestamp("us", tz="UTC")), ("host", pa.string()), ("src", pa.string()),
    ("dst", pa.string()), ("len", pa.uint32()), ("ttl", pa.uint8()), ("ip_id", pa.uint32()),
    ("proto", pa.string()), ("spt", pa.uint16()), ("dpt", pa.uint16()),
    ("icmp_type", pa.uint8()), ("icmp_code", pa.uint8()),
])


def _int(b: bytes | None) -> int | None:
    return int(b) if b is not None else None


def main(argv: list[str]) -> int:
    src, out = argv[0], argv[1]
    year = int(argv[argv.index("--year") + 1]) if "--year" in argv else 2025
    cols: dict[str, list] = {f.name: [] for f in SCHEMA}
    writer = pq.ParquetWriter(out, SCHEMA, compression="zstd")
    skipped = 0
    match = LINE.match
    bsd_cache: dict[bytes, datetime] = {}

    def flush() -> None:
        writer.write_table(pa.table(cols, schema=SCHEMA))
        for v in cols.values():
            v.clear()

    with open(src, "rb") as fh:
        for line in fh:
            m = match(line)
            if m is None:
                skipped += 1
                continue
            g = m.groupdict()
            if g["bsd"] is not None:
                t = bsd_cache.get(g["bsd"])
                if t is None:
                    t = datetime.strptime(f"{year} {g['bsd'].decode()}", "%Y %b %d %H:%M:%S")
                    t = bsd_cache.setdefault(g["bsd"], t.replace(tzinfo=UTC))
            else:
                t = datetime.fromisoformat(g["iso"].decode())
            cols["time"].append(t)
            cols["host"].append(g["host"].decode())
            cols["src"].append(g["src"].decode())
            cols["dst"].append(g["dst"].decode())
            cols["len"].append(int(g["len"]))
            cols["ttl"].append(int(g["ttl"]))
            cols["ip_id"].append(_int(g["id"]))
            cols["proto"].append(g["proto"].decode())
            cols["spt"].append(_int(g["spt"]))
            cols["dpt"].append(_int(g["dpt"]))
            cols["icmp_type"].append(_int(g["type"]))
            cols["icmp_code"].append(_int(g["code"]))
            if len(cols["time"]) >= BATCH:
                flush()
    if cols["time"]:
        flush()
    writer.close()
    print(f"skipped {skipped} lines", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
