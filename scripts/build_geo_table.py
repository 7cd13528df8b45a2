#!/usr/bin/env python3
"""Regenerate honeyscope's offline country/ASN range tables from the IPFire location database.

Input: Debian's ``libloc-database`` (``/usr/share/libloc-location/location.db``, CC BY-SA 4.0), read
with Debian's ``python3-location`` module::

    apt-get update && apt-get install -y libloc-database python3-location
    .venv/bin/python scripts/build_geo_table.py            # writes src/honeyscope/data/geo/

Output (``src/honeyscope/data/geo/``):

* ``ipv4.parquet``: ``start_int``, ``end_int`` (uint32, inclusive), ``cc``, ``asn`` (uint32),
  ``as_name``, ``flags`` (uint8 bit mask: 1 anonymous proxy, 2 satellite, 4 anycast, 8 drop list).
  Adjacent networks with identical attributes are merged into one range.
* ``ipv6.parquet``: same columns, but ``start_int``/``end_int`` are the top 48 bits of the address as
  int64 (every network in the database is a /48 or shorter, so 48 bits lose nothing).
* ``countries.parquet``: ``cc``, ``country``, ``continent``.
* ``meta.json``: database name, vendor, licence, build date, row counts.

The script runs under the project's venv (it needs pyarrow); it finds Debian's ``location`` module in
``/usr/lib/python3/dist-packages`` (same Python minor version).
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DB = "/usr/share/libloc-location/location.db"
OUT = Path(__file__).resolve().parent.parent / "src" / "honeyscope" / "data" / "geo"


def _import_location():
    try:
        import location  # type: ignore[import-not-found]
    except ImportError:
        sys.path.append("/usr/lib/python3/dist-packages")
        import location  # type: ignore[import-not-found]
    return location


def _package_version() -> str | None:
    try:
        r = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "libloc-database"],
            capture_output=True, text=True, check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return r.stdout.strip() or None


def _merge(rows: list[tuple[int, int, str, int, str, int]]) -> list[tuple]:
    """Merge adjacent ranges whose (cc, asn, as_name, flags) are equal; rows sorted by start."""
    out: list[list] = []
    for r in rows:
        if out and out[-1][1] + 1 == r[0] and tuple(out[-1][2:]) == r[2:]:
            out[-1][1] = r[1]
        else:
            out.append(list(r))
    return [tuple(r) for r in out]


def _table(rows: list[tuple], int_type: pa.DataType) -> pa.Table:
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 6
    return pa.table(
        {
            "start_int": pa.array(np.array(cols[0], dtype=np.uint64)).cast(int_type),
            "end_int": pa.array(np.array(cols[1], dtype=np.uint64)).cast(int_type),
            "cc": pa.array(cols[2], pa.string()),
            "asn": pa.array(cols[3], pa.uint32()),
            "as_name": pa.array(cols[4], pa.string()),
            "flags": pa.array(cols[5], pa.uint8()),
        }
    )


def build(db_path: str, out: Path) -> dict:
    location = _import_location()
    db = location.Database(db_path)
    flag_bits = [
        (location.NETWORK_FLAG_ANONYMOUS_PROXY, 1),
        (location.NETWORK_FLAG_SATELLITE_PROVIDER, 2),
        (location.NETWORK_FLAG_ANYCAST, 4),
        (location.NETWORK_FLAG_DROP, 8),
    ]
    as_names: dict[int, str] = {a.number: a.name for a in db.ases}
    v4: list[tuple] = []
    v6: list[tuple] = []
    for net in db.networks_flattened:
        flags = sum(bit for f, bit in flag_bits if net.has_flag(f))
        asn = net.asn
        row_tail = (net.country_code or None, asn, as_names.get(asn) if asn else None, flags)
        first = ipaddress.ip_address(net.first_address)
        last = ipaddress.ip_address(net.last_address)
        if first.version == 4:
            v4.append((int(first), int(last), *row_tail))
        else:
            v6.append((int(first) >> 80, int(last) >> 80, *row_tail))
    v4.sort(key=lambda r: r[0])
    v6.sort(key=lambda r: r[0])
    v4m, v6m = _merge(v4), _merge(v6)
    out.mkdir(parents=True, exist_ok=True)
    opts = {"compression": "zstd", "compression_level": 19}
    pq.write_table(_table(v4m, pa.uint32()), out / "ipv4.parquet", **opts)
    pq.write_table(_table(v6m, pa.int64()), out / "ipv6.parquet", **opts)
    countries = sorted(db.countries, key=lambda c: c.code)
    pq.write_table(
        pa.table(
            {
                "cc": [c.code for c in countries],
                "country": [c.name for c in countries],
                "continent": [c.continent_code for c in countries],
            }
        ),
        out / "countries.parquet",
        **opts,
    )
    built = dt.datetime.fromtimestamp(db.created_at, dt.UTC)
    meta = {
        "name": "IPFire location database (libloc)",
        "package": "Debian libloc-database",
        "package_version": _package_version(),
        "vendor": db.vendor,
        "license": db.license,
        "attribution": "Country and ASN data: IPFire Location Database, © IPFire Development "
        "Team, CC BY-SA 4.0, https://location.ipfire.org/",
        "built": built.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "networks_ipv4": len(v4),
        "networks_ipv6": len(v6),
        "ranges_ipv4": len(v4m),
        "ranges_ipv6": len(v6m),
        "ases": len(as_names),
        "countries": len(countries),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--db", default=DB, help=f"location.db to read (default {DB})")
    ap.add_argument("--out", type=Path, default=OUT, help="output directory")
    a = ap.parse_args()
    print(json.dumps(build(a.db, a.out), indent=2))


if __name__ == "__main__":
    main()
