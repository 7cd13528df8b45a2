"""Scan detection: constructed packets, psad's captures, the marx data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ibis
import pytest

from conftest import SHARED_CORPUS, canonical
from honeyscope.analyse import engine, scans

T0 = datetime(2024, 1, 1, tzinfo=UTC)
PSAD_DIRS = [SHARED_CORPUS / "iptables" / "psad"]


def table(rows: list[dict]) -> ibis.Table:
    """The rows a second apart from T0 (unless they say when), on sensor s1, to 10.0.0.1."""
    timed = [{"time": T0 + timedelta(seconds=i), **r} for i, r in enumerate(rows)]
    return ibis.memtable(canonical(timed, host="s1", dst="10.0.0.1"))


def run(t: ibis.Table, **kw):
    return engine.connect().execute(scans.scans(t, **kw))


@pytest.mark.parametrize(
    ("flags", "expected", "kind"),
    # a SYN-ACK or a RST is what a spoofed probe's victim sends back (backscatter); the rest
    # are probes (ACK: nmap's ACK scan)
    [("SYN", "SYN", "probe"), ("FIN", "FIN", "probe"), ("", "NULL", "probe"),
     ("URG PSH FIN", "XMAS", "probe"), ("ACK", "ACK", "probe"), ("SYN FIN", "SYN-FIN", "probe"),
     ("ACK SYN", "SYN-ACK", "backscatter"), ("RST", "RST", "backscatter"),
     ("ACK RST", "RST", "backscatter"), ("ACK PSH", "TCP", "probe"), (None, "TCP", "probe")],
)
def test_tcp_flag_types(flags, expected, kind):
    t = table([{"src": "1.1.1.1", "proto": "TCP", "dpt": 80, "tcp_flags": flags}])
    got = engine.connect().execute(scans.packet_types(t))
    assert got.scan_type.tolist() == [expected]
    assert got.kind.tolist() == [kind]


def test_icmp_and_other_types():
    t = table([
        {"src": "1.1.1.1", "proto": "ICMP", "icmp_type": 8},
        {"src": "1.1.1.1", "proto": "ICMP", "icmp_type": 0},
        {"src": "1.1.1.1", "proto": "ICMP", "icmp_type": 3},
        {"src": "1.1.1.1", "proto": "ICMPv6", "icmp_type": 128},
        {"src": "1.1.1.1", "proto": "ICMPv6", "icmp_type": 1},
        {"src": "1.1.1.1", "proto": "ICMP", "icmp_type": 13},
        {"src": "1.1.1.1", "proto": "UDP", "dpt": 53},
        {"src": "1.1.1.1", "proto": "47"},
    ])
    got = engine.connect().execute(scans.packet_types(t)).scan_type.tolist()
    assert got == ["PING", "ECHO-REPLY", "ICMP-ERROR", "PING", "ICMP-ERROR", "ICMP", "UDP",
                   "IP-PROTO"]


def test_vertical_horizontal_block_backscatter():
    rows = (
        [{"src": "9.9.9.1", "proto": "TCP", "tcp_flags": "SYN", "dpt": p} for p in range(100, 120)]
        + [{"src": "9.9.9.2", "proto": "TCP", "tcp_flags": "SYN", "dpt": 22, "dst": f"10.0.0.{i}"}
           for i in range(6)]
        + [{"src": "9.9.9.3", "proto": "UDP", "dpt": p, "dst": f"10.0.0.{i}"}
           for i in range(5) for p in range(10)]
        + [{"src": "9.9.9.4", "proto": "TCP", "tcp_flags": "ACK SYN", "dpt": 40000 + i,
            "dst": f"10.0.0.{i}"} for i in range(12)]
        + [{"src": "9.9.9.5", "proto": "TCP", "tcp_flags": "SYN", "dpt": 1}]  # no pattern
    )
    got = run(table(rows)).set_index("src")
    assert got.loc["9.9.9.1", "pattern"] == "vertical"
    assert got.loc["9.9.9.1", "port_range"] == "100-119"
    assert got.loc["9.9.9.2", "pattern"] == "horizontal"
    assert got.loc["9.9.9.2", "targets"] == 6
    assert got.loc["9.9.9.3", "pattern"] == "block"
    assert got.loc["9.9.9.4", "pattern"] == "backscatter"
    assert got.loc["9.9.9.4", "scan_type"] == "SYN-ACK"
    assert "9.9.9.5" not in got.index


def _psad(name: str) -> ibis.Table:
    from honeyscope.ingest.parse import parse_lines

    for d in PSAD_DIRS:
        if (d / name).exists():
            lines = (d / name).read_text(errors="replace").splitlines()
            return ibis.memtable(parse_lines(lines, source=name).rows)
    pytest.skip(f"psad capture {name} not available")


@pytest.mark.parametrize(
    ("name", "src", "scan_type", "psad_name", "port_range", "destinations"),
    [
        ("syn_scan_1000_1500.log", "192.168.10.55", "SYN", "SYN scan", "1000-1500", 1),
        ("syn_scan_1000_1500_multi_dst.log", "192.168.10.55", "SYN", "SYN scan", "1000-1500", 4),
        ("fin_scan_1000_1150.log", "192.168.10.55", "FIN", "SCAN FIN", "1000-1150", 1),
        ("xmas_scan_1000_1150.log", "192.168.10.55", "XMAS", "SCAN nmap XMAS", "1000-1150", 1),
        ("null_scan_1000_1150.log", "192.168.10.55", "NULL", "SCAN NULL", "1000-1150", 1),
        ("ack_scan_1000_1150.log", "192.168.10.55", "ACK", "ACK scan", "1000-1150", 1),
        ("udp_scan_1000_1150.log", "192.168.10.55", "UDP", "UDP scan", "1000-1150", 1),
        ("topera_ipv6_syn_scan_no_ip_opts.log", "2012:1234:1234::1", "SYN", "SYN scan",
         "0-1023", 1),
        ("topera_ipv6_syn_scan_with_ip_opts.log", "2012:1234:1234::1", "SYN", "SYN scan",
         "0-1234", 1),
        ("ipv6_tcp_connect_nmap_default_scan.log", "2001:db8:0:f101::2", "SYN", "SYN scan",
         "1-65389", 1),
    ],
)
def test_psad_vertical_scans(name, src, scan_type, psad_name, port_range, destinations):
    got = run(_psad(name))
    assert len(got) == 1, got
    r = got.iloc[0]
    assert (r.src, r.scan_type, r.psad_name, r.pattern) == (src, scan_type, psad_name, "vertical")
    assert r.port_range == port_range
    assert r.destinations == destinations


def test_psad_ack_scan_hidden_unless_asked():
    assert len(run(_psad("ack_scan_1000_1150.log"), include_ack=False)) == 0


def test_psad_syn_sweep_is_horizontal():
    r = run(_psad("syn_sweep.log")).iloc[0]
    assert (r.src, r.pattern, r.port_range, r.scan_type) == (
        "192.168.10.55", "horizontal", "1083", "SYN")
    assert r.destinations == 11


def test_psad_proto_scan():
    got = run(_psad("proto_scan.log"))
    r = got[got.pattern == "protocol"].iloc[0]
    assert (r.src, r.scan_type, r.psad_name) == ("192.168.10.55", "IP-PROTO", "IP protocol scan")
    # 255 distinct protocols in the capture; 253 besides TCP and UDP (psad's report says 251)
    assert r.src_protocols == 255
    assert r.ip_protocols == 253


@pytest.mark.parametrize("name", ["ipv4_valid_ping.log", "ipv6_ping_scan.log", "ipv4_igmp.log",
                                  "fwknop_spa_pkt.log"])
def test_psad_no_scan(name):
    assert len(run(_psad(name))) == 0


def _sql(parquet, query: str) -> list:
    """An independent count: plain SQL on the same Parquet rows (no honeyscope rule involved)."""
    import duckdb

    con = duckdb.connect()
    return list(con.execute(query.format(t=f"read_parquet('{parquet}')")).fetchone())


#: per source and probe type: packets, and whether one UTC day holds both a vertical and a
#: horizontal scan (replies, i.e. TCP from a service port to a client port and DNS answers, are
#: not probes)
LARGEST_SCAN = """
with p as (
  select src, host, dpt, floor(epoch(datetime::timestamp) / 86400) as win,
         case when proto = 'TCP' and spt between 1 and 1023 and dpt >= 1024 then null
              when proto = 'TCP' then 'TCP'
              when proto = 'UDP' and spt = 53 and dpt >= 1024 then null
              when proto = 'UDP' then 'UDP'
              when proto = 'ICMP' and type = 8 then 'PING' end as kind
  from {t}),
w as (select * from p where kind is not null),
vertical as (select distinct src, kind, win from w group by src, kind, win, host
             having count(distinct dpt) >= 10),
horizontal as (select distinct src, kind, win from w where dpt is not null
               group by src, kind, win, dpt having count(distinct host) >= 5),
found as (select src, kind from vertical union select src, kind from horizontal),
block as (select distinct src, kind from vertical join horizontal using (src, kind, win))
select src, kind, count(*) as packets, (src, kind) in (select (src, kind) from block)
from w where (src, kind) in (select (src, kind) from found)
group by src, kind order by packets desc limit 1
"""


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_marx(marx, marx_parquet):
    c = scans.type_counts(marx).execute().set_index("scan_type")
    # marx has no TCP flags: a TCP packet from a service port to a client port is a reply
    reply = _sql(marx_parquet, "select count(*) from {t} where proto='TCP' and spt between 1 and 1023 "
                       "and dpt >= 1024")[0]
    assert c.loc["TCP-REPLY", "packets"] == reply
    assert c.loc["TCP", "packets"] == 327_991 - reply
    dns = _sql(marx_parquet, "select count(*) from {t} where proto='UDP' and spt=53 and dpt >= 1024")[0]
    assert c.loc["DNS-REPLY", "packets"] == dns > 2_000
    assert c.loc["UDP", "packets"] == 78_779 - dns
    assert c.loc["PING", "packets"] == 38_597
    assert c.loc["ECHO-REPLY", "packets"] == 536
    assert c.loc["ICMP-ERROR", "packets"] == 4_251 + 1_156 + 2  # types 3, 11, 12
    # redirects (type 5, 127 packets, nearly all from one router) are not backscatter
    assert (c.loc["REDIRECT", "packets"], c.loc["REDIRECT", "kind"]) == (127, "other")
    found = scans.scans(marx)
    p = found.execute()
    # the largest scan against SQL written by hand over the raw CSV (the rules of the module's
    # description, with scans()'s default thresholds: 10 ports on one sensor or one port on 5
    # sensors within a UTC day; the marx CSV has no destination address, so a target is a sensor)
    import ipaddress

    import duckdb

    from conftest import bundled

    src, kind, packets, block = duckdb.connect().execute(LARGEST_SCAN.format(
        t=f"read_csv('{bundled('marx.csv.gz')}', header = true)")).fetchone()
    assert (p.iloc[0].src, p.iloc[0].scan_type) == (str(ipaddress.ip_address(src)), kind)
    assert p.packets.max() == p.iloc[0].packets == packets
    assert block and p.iloc[0].pattern == "block"
    # the scan row carries the source's country and ASN (marx.csv carries no country: the
    # database's, looked up here directly in the shipped range table)
    import numpy as np

    from honeyscope.analyse import enrich

    r = enrich.range_table(4).to_pandas()
    key = int.from_bytes(bytes([183, 91, 14, 60]), "big")
    hit = r.iloc[np.searchsorted(r.start_int.to_numpy(), key, side="right") - 1]
    assert hit.start_int <= key <= hit.end_int
    assert (p.iloc[0].cc, p.iloc[0].asn) == (hit.cc, hit.asn)


def test_backscatter_rule_on_constructed_packets():
    t = table([
        {"src": "1.1.1.1", "proto": "UDP", "spt": 53, "dpt": 33000},   # DNS answer: backscatter
        {"src": "1.1.1.1", "proto": "UDP", "spt": 53, "dpt": 53},      # DNS to DNS: a probe
        {"src": "1.1.1.1", "proto": "UDP", "spt": 40000, "dpt": 53},   # a query: a probe
        {"src": "1.1.1.1", "proto": "TCP", "spt": 80, "dpt": 51000},   # server's reply, no flags
        {"src": "1.1.1.1", "proto": "TCP", "spt": 51000, "dpt": 80},   # a probe, no flags
        {"src": "1.1.1.1", "proto": "TCP", "spt": 80, "dpt": 51000, "tcp_flags": "SYN"},
        {"src": "1.1.1.1", "proto": "ICMP", "icmp_type": 5},           # redirect: other
        {"src": "1.1.1.1", "proto": "ICMPv6", "icmp_type": 137},       # redirect: other
    ])
    got = engine.connect().execute(scans.packet_types(t))
    assert got.scan_type.tolist() == ["DNS-REPLY", "UDP", "UDP", "TCP-REPLY", "TCP", "SYN",
                                      "REDIRECT", "REDIRECT"]
    assert got.kind.tolist() == ["backscatter", "probe", "probe", "backscatter", "probe", "probe",
                                 "other", "other"]


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_scan_window():
    """Five targets on one port in one day is horizontal; the same five spread over five days
    is not (24 h window), unless the window is widened to cover them."""
    day = 86400
    rows = [{"src": "9.9.9.2", "proto": "TCP", "tcp_flags": "SYN", "dpt": 22, "dst": f"10.0.0.{i}",
             "time": T0 + timedelta(seconds=i * day)} for i in range(5)]
    assert len(run(table(rows))) == 0
    # windows are fixed bins since the epoch: 10-day bins hold 2023-12-29..2024-01-07 whole
    # (day 19,723 since the epoch is 2024-01-01; 19,720 = 1,972 x 10)
    assert run(table(rows), window_hours=10 * 24).pattern.tolist() == ["horizontal"]
    same_day = [{**r, "time": T0 + timedelta(seconds=i * 60)} for i, r in enumerate(rows)]
    assert run(table(same_day)).pattern.tolist() == ["horizontal"]
    with pytest.raises(ValueError, match="positive"):
        run(table(rows), window_hours=0)


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_summary_reuse_gives_the_same():
    rows = (
        [{"src": "9.9.9.1", "proto": "TCP", "tcp_flags": "SYN", "dpt": p} for p in range(100, 120)]
        + [{"src": "9.9.9.4", "proto": "TCP", "tcp_flags": "ACK SYN", "dpt": 40000 + i,
            "dst": f"10.0.0.{i}"} for i in range(12)]
        + [{"src": "9.9.9.4", "proto": "ICMP", "icmp_type": 8}]
        + [{"src": None, "proto": "UDP", "dpt": 53}]
    )
    t = table(rows)
    con = engine.connect()
    s = scans.scan_summary(t)
    summary = con.execute(s)
    a = con.execute(scans.type_counts(t)).sort_values("scan_type").reset_index(drop=True)
    b = con.execute(scans.type_counts(t, summary=s)).sort_values("scan_type").reset_index(drop=True)
    # a packet without a source has no row in the summary: counted only without it
    assert a.set_index("scan_type").loc["UDP"].tolist() == ["probe", 1, 0]
    assert "UDP" not in b.scan_type.tolist()
    assert a[a.scan_type != "UDP"].reset_index(drop=True).to_dict("records") == b.to_dict("records")
    assert con.execute(scans.scans(t)).equals(con.execute(scans.scans(t, summary=s)))
    row = summary.set_index(["src", "scan_type"]).loc[("9.9.9.4", "SYN-ACK")]
    assert row.backscatter_share == pytest.approx(12 / 13)
    assert (row.targets, row.max_targets_per_port, row.ports) == (12, 1, 12)
