"""Port → service name (IANA names), from a small table shipped with the package.

``honeyscope/data/services.csv`` (``proto,port,name``) is derived from Debian netbase's
``/etc/services`` (netbase 6.4, "updated from" IANA's Service Name and Transport Protocol Port Number
Registry); see ``data/services.README.md``. Regenerate with
``python -m honeyscope.analyse.services /etc/services``.
"""

from __future__ import annotations

import csv
import io
import sys
from functools import cache
from importlib import resources
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.csv as pacsv

from honeyscope.analyse.engine import backend, memtable


def services_path() -> Path:
    return Path(str(resources.files("honeyscope") / "data" / "services.csv"))


def parse_services(text: str) -> list[tuple[str, int, str]]:
    """(proto, port, name) rows of an ``/etc/services`` text; first name wins per (proto, port)."""
    seen: dict[tuple[str, int], str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split()
        if len(line) < 2 or "/" not in line[1]:
            continue
        port_s, proto = line[1].split("/", 1)
        if not port_s.isdigit():
            continue
        key = (proto.upper(), int(port_s))
        seen.setdefault(key, line[0])
    return sorted((p, n, name) for (p, n), name in seen.items())


@cache
def service_table() -> pa.Table:
    """``proto`` (TCP/UDP/...), ``port`` (uint16), ``service``."""
    t = pacsv.read_csv(services_path())
    return pa.table(
        {
            "proto": t.column("proto").cast(pa.string()),
            "port": t.column("port").cast(pa.uint16()),
            "service": t.column("name").cast(pa.string()),
        }
    )


@cache
def service_names() -> dict[tuple[str, int], str]:
    t = service_table()
    return {
        (p, int(n)): s
        for p, n, s in zip(
            t.column("proto").to_pylist(), t.column("port").to_pylist(),
            t.column("service").to_pylist(), strict=True,
        )
    }


def service_name(port: int | None, proto: str = "TCP") -> str | None:
    """IANA name of ``port``/``proto`` (``ssh`` for 22/TCP), None when unknown."""
    if port is None:
        return None
    return service_names().get((proto.upper(), int(port)))


def with_service(t: ibis.Table, port: str = "dpt", proto: str = "proto",
                 name: str = "service") -> ibis.Table:
    """``t`` with a column ``name``: the IANA service of (``proto``, ``port``); null when unknown."""
    s = memtable(backend(t), service_table)
    s = s.select(_sp=s.proto, _sn=s.port.cast("int32"), **{name: s.service})
    j = t.left_join(s, (t[proto] == s._sp) & (t[port].cast("int32") == s._sn))
    return j.drop("_sp", "_sn")


def write_services(src: str, out: Path | None = None) -> int:
    rows = parse_services(Path(src).read_text())
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["proto", "port", "name"])
    w.writerows(rows)
    (out or services_path()).write_text(buf.getvalue())
    return len(rows)


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    print(write_services(sys.argv[1] if len(sys.argv) > 1 else "/etc/services"), "rows")
