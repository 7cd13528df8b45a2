"""``export --format ecs|dshield`` and ``--from/--to``.

ECS is checked against other projects' expected documents (``../shared/corpus/iptables-oracles/``:
Filebeat's iptables module and the Elastic Agent integration), field by field, for every field both
documents have. Deliberate differences (not compared):

* ``network.community_id``, ``source.as.*``: computed by Filebeat from outside the line (a hash, a
  GeoIP database); honeyscope does not write them.
* ``log.offset`` (byte offset in the file): honeyscope writes the line number (``honeyscope.line``).
* ``event.action``: Filebeat copies the prefix's wording (``drop_input``, ``deny``); honeyscope writes
  its normalised action (drop, reject, accept, audit, unknown). Compared where Filebeat's value is one
  of those (EdgeOS ``-A``/``-D`` prefixes).
* an EdgeOS bracket prefix separated from ``IN=`` by a space (``[SOMETHING-1234-A] IN=``) is read by
  honeyscope (action, rule) and not by the integration: there ``event.type`` is compared on
  ``connection`` only.
* ``@timestamp`` of year-less stamps: the year comes from the upstream test harness's clock; compared
  without the year.
* addresses are compared as addresses (honeyscope writes IPv6 compressed, Filebeat as logged), MACs in
  ECS's form (upper case, dashes), lists as sets (Filebeat sorts TCP flags, the kernel does not).
"""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import date
from pathlib import Path

import pytest

from honeyscope.ingest.run import ingest
from honeyscope.render.export import export
from honeyscope.store.store import Store

ORACLES = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "iptables-oracles"
FILES = ["beats-iptables-expected.json", "beats-ipv6-expected.json", "beats-icmp-expected.json",
         "beats-ubiquiti-expected.json", "elastic-integrations-iptables-raw-expected.json"]
NOT_COMPARED = {"network.community_id", "log.offset", "source.as.number", "log.syslog.priority"}
ACTIONS = {"drop", "reject", "accept", "audit", "unknown"}


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= _flatten(v, key + ".")
        elif v is not None:
            out[key] = v
    return out


def _norm(key: str, v, line: str):
    if key in ("source.ip", "destination.ip"):
        return ipaddress.ip_address(v)
    if key.endswith(".mac"):
        return v.upper().replace(":", "-")
    if isinstance(v, list):
        return sorted(v)
    if key == "@timestamp":
        v = v[:23] + "Z" if len(v) > 24 else v  # microseconds → milliseconds (the oracle's precision)
        return v if re.search(r"\d{4}-\d\d-\d\dT", line) else v[4:]  # year-less stamp: no year
    return v


def _export_docs(tmp_path: Path, lines: list[str]) -> dict[int, dict]:
    log = tmp_path / "oracle.log"
    log.write_text("".join(x + "\n" for x in lines))
    store = tmp_path / "st"
    ingest([str(log)], store, year=2024, workers=1)
    out = tmp_path / "out.jsonl"
    export(Store(store), "ecs", str(out))
    docs = [_flatten(json.loads(x)) for x in out.read_text().splitlines()]
    return {d["honeyscope.line"]: d for d in docs}


@pytest.mark.parametrize("name", FILES)
def test_ecs_matches_filebeat_expected_documents(tmp_path, name):
    path = ORACLES / name
    if not path.is_file():
        pytest.skip(f"oracle {path} not present (the shared corpus is not checked out)")
    events = json.loads(path.read_text())["events"]
    docs = _export_docs(tmp_path, [e["line"] for e in events])
    rejected = set(Store(tmp_path / "st").rejects().column("line").to_pylist())
    compared = 0
    for n, ev in enumerate(events, start=1):
        ours = docs.get(n)
        exp = ev["expected"]
        if ours is None:  # a line honeyscope rejects (truncated EdgeOS lines, an ICMP ID > 65535)
            assert n in rejected, ev["line"]  # ... is kept, with its reason, in the rejects
            continue
        for key, want in exp.items():
            if key in NOT_COMPARED or key not in ours:
                continue
            if key == "event.action" and want not in ACTIONS:
                continue
            got = ours[key]
            if key == "event.type" and "event.action" not in exp and "event.action" in ours:
                assert "connection" in got, (name, n, key)
                continue
            assert _norm(key, got, ev["line"]) == _norm(key, want, ev["line"]), (name, n, key, got, want)
            compared += 1
    assert compared >= 5 * len(docs) // 2, compared  # most of each document is compared, not skipped


def test_ecs_fields_by_hand(tmp_path):
    """Field names and values of one line, computed by hand from the kernel's format."""
    docs = _export_docs(tmp_path, [
        "2024-06-01T10:00:00.5Z gw kernel: [wan-local-default-D]IN=eth0 OUT= "
        "MAC=00:16:3e:aa:bb:cc:00:16:3e:dd:ee:ff:08:00 SRC=198.51.100.7 DST=203.0.113.2 LEN=60 TOS=0x10 "
        "PREC=0x00 TTL=51 ID=4242 DF PROTO=TCP SPT=40000 DPT=22 SEQ=11 ACK=0 WINDOW=29200 RES=0x00 SYN "
        "URGP=0",
    ])
    d = docs[1]
    assert d["@timestamp"] == "2024-06-01T10:00:00.500000Z"
    assert (d["source.ip"], d["source.port"], d["destination.ip"], d["destination.port"]) == \
        ("198.51.100.7", 40000, "203.0.113.2", 22)
    assert (d["source.mac"], d["destination.mac"]) == ("00-16-3E-DD-EE-FF", "00-16-3E-AA-BB-CC")
    assert (d["network.transport"], d["network.type"], d["iptables.ether_type"]) == ("tcp", "ipv4", 2048)
    assert (d["event.action"], d["event.type"], d["event.category"]) == ("drop", ["connection", "denied"],
                                                                          ["network"])
    assert (d["observer.name"], d["rule.name"], d["rule.id"]) == ("gw", "wan-local", "default")
    assert (d["observer.ingress.zone"], d["observer.egress.zone"]) == ("wan", "local")
    assert (d["iptables.tos"], d["iptables.ttl"]) == (16, 51)
    assert (d["iptables.id"], d["iptables.length"]) == (4242, 60)
    assert d["iptables.fragment_flags"] == ["DF"] and d["iptables.tcp.flags"] == ["SYN"]
    assert (d["iptables.tcp.window"], d["iptables.tcp.seq"], d["iptables.tcp.ack"]) == (29200, 11, 0)
    assert (d["iptables.input_device"], d["iptables.output_device"]) == ("eth0", "")


LINES = [
    "2024-06-01T10:00:00Z s1 kernel: DROP IN=eth0 OUT= SRC=198.51.100.7 DST=203.0.113.2 LEN=60 TOS=0x00 "
    "PREC=0x00 TTL=51 ID=1 DF PROTO=TCP SPT=40000 DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0",
    "2024-06-02T23:59:59.9Z s1 kernel: DROP IN=eth0 OUT= SRC=198.51.100.8 DST=203.0.113.2 LEN=40 TOS=0x00 "
    "PREC=0x00 TTL=51 ID=2 PROTO=TCP SPT=1234 DPT=80 WINDOW=0 RES=0x00 ACK PSH FIN URGP=0",
    "2024-06-02T12:00:00Z s1 kernel: DROP IN=eth0 OUT= SRC=198.51.100.9 DST=203.0.113.2 LEN=84 TOS=0x00 "
    "PREC=0x00 TTL=60 ID=3 PROTO=ICMP TYPE=8 CODE=0 ID=77 SEQ=1",
    "2024-06-03T00:00:00Z s1 kernel: DROP IN=eth0 OUT= SRC=198.51.100.10 DST=203.0.113.2 LEN=29 TOS=0x00 "
    "PREC=0x00 TTL=60 ID=4 PROTO=UDP SPT=5353 DPT=161 LEN=9",
    "[12.5] DROP IN=eth0 OUT= SRC=198.51.100.11 DST=203.0.113.2 LEN=29 TOS=0x00 "
    "PREC=0x00 TTL=60 ID=5 PROTO=UDP SPT=5353 DPT=161 LEN=9",  # dmesg: no wall clock
]


@pytest.fixture
def store(tmp_path) -> Store:
    log = tmp_path / "fw.log"
    log.write_text("\n".join(LINES) + "\n")
    ingest([str(log)], tmp_path / "st", workers=1)
    return Store(tmp_path / "st")


def test_dshield_lines_by_hand(store, tmp_path):
    out = tmp_path / "d.txt"
    n = export(store, "dshield", str(out))
    assert n == 4  # the dmesg line has no date: DShield needs one
    assert out.read_text().splitlines() == [
        "2024-06-01 10:00:00 +00:00\t0\t1\t198.51.100.7\t40000\t203.0.113.2\t22\tTCP\tS",
        "2024-06-02 23:59:59 +00:00\t0\t1\t198.51.100.8\t1234\t203.0.113.2\t80\tTCP\tFAP",
        "2024-06-02 12:00:00 +00:00\t0\t1\t198.51.100.9\t8\t203.0.113.2\t0\tICMP\t",
        "2024-06-03 00:00:00 +00:00\t0\t1\t198.51.100.10\t5353\t203.0.113.2\t161\tUDP\t",
    ]


@pytest.mark.parametrize("fmt", ["csv", "ecs", "dshield"])
def test_from_to_keep_utc_days_inclusive(store, tmp_path, fmt):
    out = tmp_path / "o"
    assert export(store, fmt, str(out), start=date(2024, 6, 2), end=date(2024, 6, 2)) == 2
    assert export(store, fmt, str(out), start=date(2024, 6, 3)) == 1
    assert export(store, fmt, str(out), end=date(2024, 6, 1)) == 1


def test_from_after_to_is_an_error(store, tmp_path):
    with pytest.raises(ValueError, match="after --to"):
        export(store, "csv", str(tmp_path / "o"), start=date(2024, 6, 3), end=date(2024, 6, 2))
