"""``honeyscope ip ADDR SOURCE``: the card of one source against rows written and counted by hand
(issue 10, item 7)."""

from __future__ import annotations

import json

import pytest

from honeyscope.cli import main as cli

V4 = ("Mar {d:2d} {hm}:00 {host} kernel: DROP IN=eth0 OUT= SRC={src} DST=5.6.7.{k} LEN=40 TOS=0x00 "
      "PREC=0x00 TTL=50 ID=1 PROTO={proto} SPT=40000 DPT={dpt} WINDOW=1024 RES=0x00 SYN URGP=0 ")
UDP = ("Mar {d:2d} {hm}:00 {host} kernel: DROP IN=eth0 OUT= SRC={src} DST=5.6.7.8 LEN=40 TOS=0x00 "
       "PREC=0x00 TTL=50 ID=1 PROTO=UDP SPT=5353 DPT={dpt} LEN=20 ")
V6 = ("Mar {d:2d} {hm}:00 {host} kernel: DROP IN=eth0 OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 "
      "DST=2001:db8::2 LEN=80 TC=0 HOPLIMIT=57 FLOWLBL=0 PROTO=TCP SPT=40000 DPT={dpt} WINDOW=1 "
      "RES=0x00 SYN URGP=0 ")
A = "61.131.218.218"

# Hand count for A: 7 packets; sensors in order of first packet: beta (Mar 3 09:00), alpha
# (Mar 3 10:00), gamma (Mar 4 08:00); TCP/1433 x4, TCP/3306 x2, UDP/5060 x1; first seen
# 2013-03-03T09:00:00Z, last seen 2013-03-04T08:00:00Z. Another source (9.9.9.9) adds 2 packets
# that must not count; the IPv6 source sends 2 packets to TCP/22 on alpha.
LINES = [
    V4.format(d=3, hm="10:00", host="alpha", src=A, k=1, proto="TCP", dpt=1433),
    V4.format(d=3, hm="09:00", host="beta", src=A, k=2, proto="TCP", dpt=1433),
    V4.format(d=3, hm="11:00", host="alpha", src=A, k=1, proto="TCP", dpt=3306),
    V4.format(d=3, hm="12:00", host="beta", src=A, k=2, proto="TCP", dpt=1433),
    UDP.format(d=3, hm="13:00", host="alpha", src=A, dpt=5060),
    V4.format(d=4, hm="08:00", host="gamma", src=A, k=3, proto="TCP", dpt=1433),
    V4.format(d=4, hm="07:00", host="gamma", src=A, k=3, proto="TCP", dpt=3306),
    V4.format(d=3, hm="08:00", host="alpha", src="9.9.9.9", k=1, proto="TCP", dpt=23),
    V4.format(d=3, hm="08:30", host="delta", src="9.9.9.9", k=4, proto="TCP", dpt=23),
    V6.format(d=3, hm="14:00", host="alpha", dpt=22),
    V6.format(d=3, hm="15:00", host="alpha", dpt=22),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    import honeyscope

    d = tmp_path_factory.mktemp("ip")
    (d / "k.log").write_text("\n".join(LINES) + "\n")
    led = honeyscope.ingest([str(d / "k.log")], d / "s", year=2013)
    assert led.rows == len(LINES)
    return str(d / "s")


@pytest.mark.slow  # a whole card: ~3 s of Ibis compiling on a loaded 2-core machine
def test_card_of_a_source_as_counted_by_hand(store):
    import honeyscope
    from honeyscope.analyse.ip import ip_card

    c = ip_card(honeyscope.open_packets([store]), A, top=2)
    assert (c.addr, c.family, c.packets, c.fleet) == (A, 4, 7, 4)
    assert str(c.first_seen) == "2013-03-03 09:00:00+00:00"
    assert str(c.last_seen) == "2013-03-04 08:00:00+00:00"
    assert c.sensors[["order", "host", "packets"]].values.tolist() == [
        [1, "beta", 2], [2, "alpha", 3], [3, "gamma", 2]]
    assert [str(t) for t in c.sensors["first_seen"]] == [
        "2013-03-03 09:00:00+00:00", "2013-03-03 10:00:00+00:00", "2013-03-04 07:00:00+00:00"]
    assert c.ports.values.tolist() == [["TCP", 1433, 4], ["TCP", 3306, 2]]
    assert c.other_ports == 1  # UDP/5060 beyond the top 2
    assert c.protocols.values.tolist() == [["TCP", 6], ["UDP", 1]]
    assert len(c.timeline) == 7 and set(c.timeline["src"]) == {A}
    assert c.timeline["first_at_sensor"].sum() == 3


@pytest.mark.slow  # a whole card: ~3 s of Ibis compiling on a loaded 2-core machine
def test_cli_text_and_json(store, capsys):
    assert cli(["ip", A, store, "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["packets"], d["first_seen"], d["last_seen"]) == (
        7, "2013-03-03T09:00:00Z", "2013-03-04T08:00:00Z")
    assert [s["host"] for s in d["sensors"]] == ["beta", "alpha", "gamma"]
    assert d["ports"][0] == {"proto": "TCP", "port": 1433, "packets": 4}
    assert cli(["ip", A, store]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"source {A} (IPv4)")
    assert "7 on 3 of 4 sensors" in out and "TCP 6, UDP 1" in out


@pytest.mark.slow  # a whole card: ~3 s of Ibis compiling on a loaded 2-core machine
def test_ipv6_address_in_any_spelling(store, capsys):
    assert cli(["ip", "2001:DB8:0:0::1", store, "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["addr"], d["family"], d["packets"]) == ("2001:db8::1", 6, 2)
    assert d["ports"] == [{"proto": "TCP", "port": 22, "packets": 2}]


def test_no_packets_is_one_sentence_and_exit_1(store, capsys):
    assert cli(["ip", "8.8.8.8", store]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no packets from 8.8.8.8" in err


@pytest.mark.parametrize("bad", ["1.2.3.999", "example.org", "2001:db8::g"])
def test_invalid_address_is_a_usage_error(store, capsys, bad):
    assert cli(["ip", bad, store]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not an IPv4 or IPv6 address" in err


@pytest.mark.slow
def test_plot_writes_the_timeline(store, tmp_path, capsys):
    out = tmp_path / "t.png"
    assert cli(["ip", A, store, "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_timeless_source_has_a_card_and_a_note_instead_of_a_chart(tmp_path, capsys):
    # one dmesg line (kernel uptime only): a packet without a wall-clock time
    f = tmp_path / "dmesg.txt"
    f.write_text("[12.5] INPUT drop: IN=eth0 OUT= SRC=10.0.0.7 DST=10.0.0.2 LEN=40 TTL=64 ID=1 PROTO=TCP "
                 "SPT=1 DPT=22 WINDOW=1 RES=0x00 SYN URGP=0\n")
    png = tmp_path / "t.png"
    assert cli(["ip", "10.0.0.7", str(f), "--format", "json", "--plot", str(png)]) == 0
    cap = capsys.readouterr()
    d = json.loads(cap.out)
    assert (d["packets"], d["first_seen"], d["sensors"][0]["host"]) == (1, None, "dmesg.txt")
    assert cap.err == "honeyscope: note: no packet from 10.0.0.7 has a wall-clock time: no timeline drawn\n"
    assert not png.exists()
