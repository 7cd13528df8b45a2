"""One card for one source address: the question analysts ask most ("who is 61.131.218.218?").

:func:`ip_card` gathers, for the packets of one source (IPv4 or IPv6): first and last seen,
packets, the sensors it reached and in which order (its first packet at each), its top ports and
its protocols with counts, its scan types and patterns (:mod:`honeyscope.analyse.scans`), its
country and ASN (:func:`honeyscope.analyse.enrich.source_origin`: the input's own country when it
carries one, else the shipped database) and its packet timeline
(:func:`honeyscope.analyse.fleet.source_timeline`). Rows without a wall-clock time (dmesg lines)
count as packets and ports but have no place in time: they sort after the timed ones.

Written as Ibis on the source's rows only (filtered once, then cached), so it runs on DuckDB and
Spark alike.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from honeyscope.analyse import enrich, fleet, scans
from honeyscope.store.frames import output_frame, restore_ints, time_text

#: Ports and protocols shown by default.
TOP = 10


class NoPacketsFromError(RuntimeError):
    """The source holds no packet from the address (exit 1 on the command line, not a usage error)."""


def normalise(addr: str) -> str:
    """``addr`` as the store writes it (IPv6 compressed, lower case); ValueError when it is not
    an IPv4 or IPv6 address."""
    try:
        return str(ipaddress.ip_address(addr.strip()))
    except ValueError:
        raise ValueError(f"{addr!r} is not an IPv4 or IPv6 address") from None


@dataclass
class IpCard:
    """The card of one source address. Tables are pandas; times are UTC ``pd.Timestamp``."""

    addr: str
    family: int
    packets: int
    first_seen: pd.Timestamp | None
    last_seen: pd.Timestamp | None
    #: sensors in the order the source reached them: ``order`` (1 = first), ``host``,
    #: ``first_seen`` (its first packet there), ``packets``
    sensors: pd.DataFrame
    fleet: int
    #: ``proto``, ``port``, ``packets``: the top destination ports, most packets first
    ports: pd.DataFrame
    #: ``proto``, ``packets``: every protocol, most packets first
    protocols: pd.DataFrame
    #: :func:`honeyscope.analyse.scans.scan_summary` per packet type, with the scan ``pattern``
    #: (vertical, horizontal, block, protocol, backscatter; null when none) and psad's name
    scans: pd.DataFrame
    #: ``cc``, ``country``, ``cc_from`` (input / database), ``asn``, ``as_name`` (nulls: unknown)
    origin: dict[str, Any] = field(default_factory=dict)
    #: every packet in time order (:func:`honeyscope.analyse.fleet.source_timeline`)
    timeline: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: ports beyond the top shown
    other_ports: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The card as plain JSON-ready values (times as RFC 3339 text, tables as records)."""
        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            import json

            return json.loads(output_frame(df).to_json(orient="records", date_format="iso"))

        return {
            "addr": self.addr,
            "family": self.family,
            "packets": self.packets,
            "first_seen": None if self.first_seen is None else time_text(self.first_seen),
            "last_seen": None if self.last_seen is None else time_text(self.last_seen),
            "fleet": self.fleet,
            "sensors": records(self.sensors),
            "ports": records(self.ports),
            "other_ports": self.other_ports,
            "protocols": records(self.protocols),
            "scans": records(self.scans),
            "origin": self.origin,
        }


def _ts(v: Any) -> pd.Timestamp | None:
    return None if v is None or pd.isna(v) else pd.Timestamp(v).tz_convert("UTC") if pd.Timestamp(
        v).tzinfo else pd.Timestamp(v).tz_localize("UTC")


def ip_card(packets: ir.Table, addr: str, *, top: int = TOP, timeline_limit: int | None = None) -> IpCard:
    """The card of source ``addr`` in ``packets`` (see the module). ``top``: ports shown;
    ``timeline_limit``: at most this many packets in ``timeline`` (None: all).

    Raises ValueError for something that is not an address, :class:`NoPacketsFromError` when
    no packet comes from it."""
    a = normalise(addr)
    fleet_n = int(packets.host.nunique().execute())
    t = packets.filter(packets.src == a).cache()  # the source's rows, read once
    head = t.aggregate(packets=t.count(), first=t.time.min(), last=t.time.max()).execute().iloc[0]
    n = int(head["packets"])
    if n == 0:
        raise NoPacketsFromError(f"no packets from {a} (the source has packets from other addresses)")
    # sensors in order of the first packet there; a sensor with only timeless rows comes last
    s = t.group_by("host").aggregate(first_seen=t.time.min(), packets=t.count())
    s = s.mutate(order=ibis.row_number().over(
        order_by=[s.first_seen.isnull(), s.first_seen, s.host]) + 1)
    sensors = s.select("order", "host", "first_seen", "packets").order_by("order").execute()
    p = t.filter(t.dpt.notnull())
    g = p.group_by(["proto", p.dpt.cast("int32").name("port")]).aggregate(packets=p.count())
    ports_all = g.order_by([ibis.desc("packets"), "proto", "port"]).execute()
    ports = ports_all.head(top).reset_index(drop=True)
    protos = t.group_by("proto").aggregate(packets=t.count())
    protocols = protos.order_by([ibis.desc("packets"), "proto"]).execute()
    summary = scans.scan_summary(t)
    found = scans.scans(t, summary=summary).select("scan_type", "pattern", "psad_name")
    sc = summary.left_join(found, "scan_type").select(
        "scan_type", "pattern", "psad_name", "kind", "packets", "targets", "sensors", "ports",
        "port_min", "port_max", "first_seen", "last_seen",
    ).order_by([ibis.desc("packets"), "scan_type"]).execute()
    origin_df = enrich.source_origin(t).execute()
    origin = {k: (None if pd.isna(v) else (int(v) if k == "asn" else str(v)))
              for k, v in origin_df.iloc[0].items() if k != "addr"} if len(origin_df) else {}
    tl = fleet.source_timeline(t, [a])
    if timeline_limit:
        tl = tl.limit(timeline_limit)
    timeline = tl.execute()
    for df in (sensors, ports, protocols, sc, timeline):
        for c in ("packets", "order", "targets", "sensors", "ports"):
            if c in df.columns and df[c].dtype.kind in "iu":
                df[c] = df[c].astype("int64")
    return IpCard(
        addr=a, family=ipaddress.ip_address(a).version, packets=n,
        first_seen=_ts(head["first"]), last_seen=_ts(head["last"]),
        sensors=restore_ints(sensors), fleet=fleet_n, ports=restore_ints(ports),
        protocols=protocols, scans=restore_ints(sc), origin=origin,
        timeline=restore_ints(timeline), other_ports=max(0, len(ports_all) - len(ports)),
    )
