"""The baseline: a straightforward per-line Python ``re`` parser writing the same columns.

Honest, not sabotaged: regexes are compiled once, one pass per line, fields by ``dict`` lookups,
rows batched into Arrow and written as Parquet in 64k-row groups. It handles the common
framings (RFC3164 with a year from the reference time, RFC3339, dmesg) and the same segment
rules (IP header / transport / embedded header) as honeyscope, without its validation depth.

Usage: ``python benchmarks/naive_parser.py INPUT OUTPUT.parquet``
"""

from __future__ import annotations

import ipaddress
import re
import sys
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "src"))
from honeyscope import schema

HEAD = re.compile(
    r"^(?:<\d+>)?(?:\S*?:)?(?:(?P<bsd>[A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d)|"
    r"(?P<iso>\d{4}-\d\d-\d\dT\S+))?\s*(?P<host>[^\s\[]\S*(?<!:))?\s*(?:kernel:\s*)?"
    r"(?:\[\s*(?P<up>\d+\.\d+)\]\s*)?(?P<prefix>.*?)IN=(?P<body>.*)$"
)
KV = re.compile(r"(\w+)[=:](\S*)")
FLAGS = re.compile(r"RES=\S+ ((?:[A-Z]{3} )*)URGP=")
OPT = re.compile(r"OPT \(([^)]*)\)")
MONTHS = {m: i for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}
NUM = {
    "LEN": "len", "TTL": "ttl", "ID": "ip_id", "HOPLIMIT": "ttl", "FLOWLBL": "flowlbl",
    "TC": "tos",
}


def _addr(text: str) -> tuple[str, int | None, int]:
    a = ipaddress.ip_address(text)
    if a.version == 4:
        return str(a), int(a), 4
    return a.compressed, None, 6


def parse_line(line: str, year: int) -> dict | None:
    m = HEAD.match(line)
    if not m:
        return None
    body = m["body"]
    ip, _, rest = body.partition("PROTO=")
    l4, _, brk = rest.partition("[")
    ipf = dict(KV.findall(ip))
    l4f = dict(KV.findall(l4))
    if "SRC" not in ipf or not rest:
        return None
    row: dict = {}
    if m["bsd"]:
        mon, day, clock = m["bsd"].split()
        row["time"] = datetime.strptime(f"{year} {MONTHS[mon]} {day} {clock}",
                                        "%Y %m %d %H:%M:%S").replace(tzinfo=UTC)
    elif m["iso"]:
        row["time"] = datetime.fromisoformat(m["iso"]).astimezone(UTC)
    row["host"] = m["host"]
    row["uptime"] = float(m["up"]) if m["up"] else None
    row["prefix"] = m["prefix"].strip() or None
    row["in_iface"] = body.split(" ", 1)[0] or None
    row["out_iface"] = ipf.get("OUT") or None
    row["src"], row["src_int"], row["family"] = _addr(ipf["SRC"])
    row["dst"], row["dst_int"], _ = _addr(ipf["DST"])
    for k, col in NUM.items():
        if k in ipf:
            row[col] = int(ipf[k])
    if "TOS" in ipf:
        row["tos"] = int(ipf["TOS"], 16)
    if "PREC" in ipf:
        row["prec"] = int(ipf["PREC"], 16)
    words = ip.split()
    row["df"], row["mf"], row["ce"] = "DF" in words, "MF" in words, "CE" in words
    mac = ipf.get("MAC")
    if mac and len(mac) == 41:
        row["mac_dst"], row["mac_src"] = mac[:17], mac[18:35]
        row["ethertype"] = int(mac[36:38] + mac[39:41], 16)
    elif mac:
        row["mac"] = mac
    o = OPT.search(ip)
    if o:
        row["ip_opt"] = o[1].replace(" ", "")
    proto = l4.split(" ", 1)[0].upper()
    row["proto"] = "ICMPv6" if proto == "ICMPV6" else proto
    for k, col in (("SPT", "spt"), ("DPT", "dpt"), ("WINDOW", "window"), ("URGP", "urgp"),
                   ("TYPE", "icmp_type"), ("CODE", "icmp_code"), ("LEN", "l4_len"),
                   ("MTU", "mtu"), ("UID", "uid"), ("GID", "gid")):
        if k in l4f:
            v = int(l4f[k])
            if col in ("spt", "dpt") and v > 65535:
                return None
            row[col] = v
    if row["proto"] in ("ICMP", "ICMPv6"):
        if "ID" in l4f:
            row["icmp_id"] = int(l4f["ID"])
        if "SEQ" in l4f:
            row["icmp_seq"] = int(l4f["SEQ"])
    if row["proto"] == "TCP":
        f = FLAGS.search(l4)
        row["tcp_flags"] = f[1].strip() if f else None
        if "RES" in l4f:
            row["res"] = int(l4f["RES"], 16)
        o = OPT.search(l4)
        if o:
            row["tcp_opt"] = o[1]
    if brk.startswith("SRC="):
        iip, _, il4 = brk.partition("PROTO=")
        iipf = dict(KV.findall(iip))
        il4f = dict(KV.findall(il4))
        row["inner_src"] = _addr(iipf["SRC"])[0] if "SRC" in iipf else None
        row["inner_dst"] = _addr(iipf["DST"])[0] if "DST" in iipf else None
        row["inner_proto"] = il4.split(" ", 1)[0]
        for k, col in (("SPT", "inner_spt"), ("DPT", "inner_dpt"), ("TYPE", "inner_icmp_type"),
                       ("CODE", "inner_icmp_code")):
            if k in il4f:
                row[col] = int(il4f[k])
        for k, col in (("LEN", "inner_len"), ("TTL", "inner_ttl"), ("HOPLIMIT", "inner_ttl"),
                       ("ID", "inner_ip_id")):
            if k in iipf:
                row[col] = int(iipf[k])
    return row


def main(argv: list[str]) -> int:
    src, dst = argv[1], argv[2]
    year = datetime.now(UTC).year
    writer = None
    batch: list[dict] = []
    lineno = 0

    def flush() -> None:
        nonlocal writer, batch
        if not batch:
            return
        cols = {f.name: [r.get(f.name) for r in batch] for f in schema.SCHEMA}
        t = pa.table({k: pa.array(v, schema.SCHEMA.field(k).type) for k, v in cols.items()})
        if writer is None:
            writer = pq.ParquetWriter(dst, schema.SCHEMA, compression="zstd")
        writer.write_table(t)
        batch = []

    with open(src, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            lineno += 1
            try:
                row = parse_line(line.rstrip("\r\n"), year)
            except (ValueError, KeyError):
                row = None
            if row is None:
                continue
            row["source"] = src
            row["line"] = lineno
            batch.append(row)
            if len(batch) >= 65536:
                flush()
    flush()
    if writer is not None:
        writer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
