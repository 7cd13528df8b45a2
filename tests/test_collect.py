"""``honeyscope collect``: framings, senders, spool, restart, back-pressure, UDP drops (loopback only)."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from honeyscope.ingest import collect as collect_mod
from honeyscope.ingest.collect import _TCP, Collector, parse_listen, udp_kernel_drops
from honeyscope.ingest.spool import Spool
from honeyscope.store.store import Store

ROOT = Path(__file__).resolve().parents[1]
MSG = ("DROP IN=eth0 OUT= SRC=198.51.100.{a} DST=203.0.113.9 LEN=40 TOS=0x00 PREC=0x00 TTL=50 "
       "ID={i} PROTO=TCP SPT={s} DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0")


def line3164(i: int, host: str | None = "s1", s: int = 1) -> str:
    h = f"{host} " if host else ""
    return f"<4>Jun  1 12:00:00 {h}kernel: " + MSG.format(a=i % 250, i=i % 65536, s=s)


def line5424(i: int, host: str = "-", s: int = 2) -> str:
    return f"<4>1 2024-06-01T12:00:00.25Z {host} kernel - - [x@1 a=\"\\]\"] " + MSG.format(
        a=i % 250, i=i % 65536, s=s)


class Running:
    """A collector in a thread of this process; stopped (and its rows committed) on exit."""

    def __init__(self, store: Path, listens: list[str], **kw) -> None:
        self.ready = threading.Event()
        self.urls: list[str] = []

        def on_ready(urls: list[str]) -> None:
            self.urls = urls
            self.ready.set()

        kw.setdefault("workers", 1)  # no worker processes to start: fast tests (the benchmark uses them)
        kw.setdefault("commit_every", 0.2)
        self.col = Collector(store, listens, on_ready=on_ready, **kw)
        self.stats = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.stats = self.col.run()
        except BaseException as e:
            self.error = e
            self.ready.set()

    def port(self, proto: str) -> int:
        return int(next(u for u in self.urls if u.startswith(proto)).rsplit(":", 1)[1])

    def __enter__(self) -> Running:
        self.thread.start()
        assert self.ready.wait(30), "collector did not start"
        if self.error:
            raise self.error
        return self

    def __exit__(self, *exc) -> None:
        self.col.stop()
        self.thread.join(60)
        assert not self.thread.is_alive()
        if self.error and not exc[0]:
            raise self.error


def _send_tcp(port: int, data: bytes, chunk: int = 0) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        if chunk:
            for k in range(0, len(data), chunk):
                s.sendall(data[k:k + chunk])
        else:
            s.sendall(data)


def _octets(msgs: list[str]) -> bytes:
    return b"".join(str(len(m.encode())).encode() + b" " + m.encode() for m in msgs)


def test_framings_senders_and_rejects(tmp_path):
    store = tmp_path / "st"
    newline = [line3164(i) for i in range(300)]
    octet = [line5424(i) for i in range(200)]  # no host: the sender's address names the sensor
    garbage = ["hello world", "Jun  1 12:00:00 s1 sshd[1]: Accepted password", "<4>1 - - - - - - "]
    with Running(store, ["tcp://127.0.0.1:0", "udp://127.0.0.1:0"]) as r:
        tport, uport = r.port("tcp"), r.port("udp")
        _send_tcp(tport, ("\n".join(newline[:150] + garbage[:2]) + "\r\n").encode())
        _send_tcp(tport, ("\n".join(newline[150:]) + "\n").encode(), chunk=97)  # frames split anywhere
        _send_tcp(tport, _octets(octet + garbage[2:]), chunk=61)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            for i in range(50):
                u.sendto(line3164(i, host="u1", s=3).encode() + b"\n", ("127.0.0.1", uport))
                time.sleep(0.001)
        deadline = time.monotonic() + 20
        while r.col.stats.received < 300 + 200 + 3 + 50 and time.monotonic() < deadline:
            time.sleep(0.05)
    st = Store(store)
    led = st.ledger()
    assert led["rows"] == 300 + 200 + 50
    assert led["rejected_total"] == 3
    assert led["hosts"] == {"s1": 300, "127.0.0.1": 200, "u1": 50}
    t = st.table(["host", "spt", "tcp_flags", "time"]).to_pandas()
    assert (t[t.spt == 2].time == pd.Timestamp("2024-06-01T12:00:00.25Z")).all()
    assert r.stats.rows == 550 and r.stats.rejected_total == 3 and r.stats.connections_total == 3
    texts = set(st.rejects().column("text").to_pylist())
    assert {"hello world", "Jun  1 12:00:00 s1 sshd[1]: Accepted password"} <= texts


def test_allow_refuses_other_senders(tmp_path):
    with Running(tmp_path / "st", ["tcp://127.0.0.1:0", "udp://127.0.0.1:0"], allow=["10.0.0.0/8"]) as r:
        with socket.create_connection(("127.0.0.1", r.port("tcp"))) as s:
            s.sendall((line3164(1) + "\n").encode())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.sendto(line3164(2).encode(), ("127.0.0.1", r.port("udp")))
        deadline = time.monotonic() + 10
        while r.col.stats.refused < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert r.stats.refused == 2
    assert Store(tmp_path / "st").ledger()["rows"] == 0


class _FakeCollector:
    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.n = 0

    def put(self, data: bytes, lines: int, udp: bool = False) -> bool:
        self.out.append(data)
        self.n += lines
        return True


@pytest.mark.parametrize("octet", [True, False])
def test_frames_split_at_every_byte(octet):
    """Every message comes out whole and once, whatever the TCP segments' boundaries."""
    msgs = [line3164(i) for i in range(3)] + ["x", "a message\nwith a newline" if octet else "y"]
    data = _octets(msgs) if octet else ("\n".join(msgs) + "\n").encode()
    for cut in range(1, len(data)):
        p, got = _received_in_two(data, cut)
        want = [f"192.0.2.1\t{m}".replace("\nwith", " with") for m in msgs]
        assert got == want, cut
        assert p.col.n == len(msgs)


def _received_in_two(data: bytes, cut: int) -> tuple[_TCP, list[str]]:
    """A connection from 192.0.2.1 that receives ``data`` in two segments cut at ``cut``: the
    protocol and the spool lines it wrote."""
    p = _TCP(_FakeCollector())  # type: ignore[arg-type]
    p.prefix = b"192.0.2.1\t"
    p.data_received(data[:cut])
    p.data_received(data[cut:])
    p.flush_rest()
    return p, b"".join(p.col.out).decode().split("\n")[:-1]


@pytest.mark.parametrize("trailer", [b"\n", b"\r\n"])
def test_octet_frames_with_a_trailer_split_at_every_byte(trailer):
    """Octet-counted frames each followed by a trailer (as some senders write them): a TCP segment
    ending right after a trailer must not turn the connection to newline framing."""
    msgs = [line3164(i) for i in range(3)] + ["x"]
    data = b"".join(str(len(m)).encode() + b" " + m.encode() + trailer for m in msgs)
    for cut in range(1, len(data)):
        p, got = _received_in_two(data, cut)
        assert got == [f"192.0.2.1\t{m}" for m in msgs], cut
        assert p.octets, cut


def test_octet_frames_in_one_pass():
    """The compiled framer on its own: whole frames out (inner newline → space, trailing CR/LF of a
    multi-line message dropped), the incomplete rest left, damage reported where it starts."""
    from honeyscope.ingest.collect import octet_frames

    assert octet_frames(b"3 abc 0 4 a\nb\n2 x", b"P ") == (b"P abc\nP \nP a b\n", 3, 14, False)
    assert octet_frames(b"1 a 12", b"") == (b"a\n", 1, 4, False)  # "12": wait for the space
    assert octet_frames(b"1 a x 1 b", b"") == (b"a\n", 1, 4, True)
    assert octet_frames(b"1 a 12345678901 b", b"") == (b"a\n", 1, 4, True)  # 11 digits
    assert octet_frames(b"2000000 b", b"") == (b"", 0, 0, True)  # above MAX_OCTETS
    assert octet_frames(b"", b"P") == (b"", 0, 0, False)


def test_damaged_octet_framing_falls_back_to_lines():
    p = _TCP(_FakeCollector())  # type: ignore[arg-type]
    p.prefix = b"h\t"
    p.data_received(b"5 abcde12x not a length\nnext line\n")
    p.flush_rest()
    assert b"".join(p.col.out) == b"h\tabcde\nh\t12x not a length\nh\tnext line\n"


def test_restart_commits_what_the_spool_held_once(tmp_path):
    """A kill leaves lines in the spool (one half-written): the next run commits the whole ones,
    the one after adds nothing."""
    store = tmp_path / "st"
    Store(store, create=True)
    sp = Spool(store / "spool")
    sp.append("".join(f"192.0.2.7\t{line3164(i, host=None)}\n" for i in range(40)).encode())
    sp.close()
    with open(store / "spool" / "seg-00000001.log", "ab") as f:
        f.write(b"192.0.2.7\t<4>Jun  1 12:00:00 kernel: DROP IN=eth0 OUT= SRC=1.")  # cut by the kill
    for _ in range(2):
        with Running(store, ["tcp://127.0.0.1:0"]):
            pass
    led = Store(store).ledger()
    assert led["rows"] == 40 and led["rejected_total"] == 0
    assert led["hosts"] == {"192.0.2.7": 40}


def test_back_pressure_pauses_and_loses_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(collect_mod, "PENDING_HIGH", 2048)
    monkeypatch.setattr(collect_mod, "BACKLOG_HIGH", 4096)
    n = 3000
    with Running(tmp_path / "st", ["tcp://127.0.0.1:0"]) as r:
        _send_tcp(r.port("tcp"), "".join(line3164(i) + "\n" for i in range(n)).encode())
        deadline = time.monotonic() + 20
        while r.col.stats.received < n and time.monotonic() < deadline:
            time.sleep(0.05)
    assert r.stats.paused > 0
    assert Store(tmp_path / "st").ledger()["rows"] == n


def test_udp_kernel_drops_are_read_from_proc():
    """The drops column of /proc/net/udp for one socket = datagrams sent − datagrams it can read."""
    if not os.path.exists("/proc/net/udp"):
        pytest.skip("no /proc/net/udp on this system")
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = 300
    for _ in range(sent):
        tx.sendto(b"x" * 200, rx.getsockname())
    rx.setblocking(False)
    got = 0
    while True:
        try:
            rx.recv(1000)
            got += 1
        except BlockingIOError:
            break
    assert got < sent
    assert udp_kernel_drops(os.fstat(rx.fileno()).st_ino) == sent - got
    rx.close()
    tx.close()


@pytest.mark.parametrize("spec, msg", [
    ("http://x:1", "expected tcp://HOST:PORT"),
    ("tcp://127.0.0.1:99999", "port must be a number"),
    ("tcp://127.0.0.1", "port must be a number"),
])
def test_bad_listen(spec, msg):
    with pytest.raises(ValueError, match=msg):
        parse_listen(spec)


def test_listen_defaults_to_loopback():
    assert str(parse_listen("tcp://:514")) == "tcp://127.0.0.1:514"
    assert str(parse_listen("udp://[::1]:514")) == "udp://[::1]:514"


@pytest.mark.slow
def test_cli_bad_option_is_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    p = subprocess.run([sys.executable, "-m", "honeyscope", "collect", "--store", str(tmp_path / "s"),
                        "--listen", "tcp://127.0.0.1:0", "--allow", "10.0.0.300/8"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode != 0
    assert p.stderr.strip().count("\n") == 0 and "--allow" in p.stderr and "Traceback" not in p.stderr


def test_port_in_use_is_one_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(RuntimeError, match="cannot listen"):
            Collector(tmp_path / "st", [f"tcp://127.0.0.1:{port}"], workers=1).run()


@pytest.mark.slow
def test_load_four_senders_rows_equal_lines_sent():
    """The issue's load test (benchmarks/bench_collect.py): 4 TCP senders x 50,000 lines, half of them
    octet-counted, plus garbage → rows = lines sent, rejects = garbage; bounded in time."""
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_collect.py"), "--senders", "4",
                        "--lines", "50000", "--garbage", "500", "--timeout", "240", "--no-baseline"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "rows 200,000 (sent 200,000), rejects 2,000 (garbage 2,000)" in p.stdout


def test_interleaved_senders_name_their_host_less_lines():
    """One block mixing senders: each host-less line is named by its own sender, a line with a host
    keeps it, a line without a recorded sender gets the default; line numbers stay the block's."""
    from honeyscope.ingest.live import parse_batch, split_senders

    block = ("192.0.2.1\t" + line3164(1, host=None) + "\n"
             "192.0.2.2\t" + line3164(2, host=None) + "\n"
             "192.0.2.1\t" + line3164(3, host="named") + "\n"
             "192.0.2.3\tnot a packet\n"
             + line3164(5, host=None) + "\n").encode()
    msgs, senders = split_senders(block)
    (rows, rejects), = parse_batch(msgs, 10, source="s", sensor="default", senders=senders)
    assert list(zip(rows.column("line").to_pylist(), rows.column("host").to_pylist(), strict=True)) == [
        (10, "192.0.2.1"), (11, "192.0.2.2"), (12, "named"), (14, "default")]
    assert rejects.column("host").to_pylist() == ["192.0.2.3"] and rejects.column("line").to_pylist() == [13]


def test_split_senders_edges():
    """Spool lines cut at their first tab, by bytes: no tab (no sender), an empty line, a tab in the
    message, CR-LF, invalid UTF-8 (replaced), a non-ASCII sender."""
    from honeyscope.ingest.live import split_senders

    block = b"10.0.0.1\ta b\n\nno tab\r\n\tonly message\n10.0.0.2\tx\ty\n\xe6\x97\xa5\tz\xff\nh\t"
    msgs, senders = split_senders(block)
    assert msgs.to_pylist() == ["a b", "", "no tab", "only message", "x\ty", "z\ufffd", ""]
    assert senders.to_pylist() == ["10.0.0.1", "", "", "", "10.0.0.2", "\u65e5", "h"]
    assert [len(a) for a in split_senders(b"")] == [0, 0]


def test_blocks_staged_at_once_by_workers_keep_every_row(tmp_path):
    """Blocks parsed and staged side by side (here on threads: the same path as worker processes),
    each spanning two months: every file keeps its own name, every row and reject is committed once,
    counted once."""
    from concurrent.futures import ThreadPoolExecutor

    from honeyscope.ingest.live import commit_blocks

    def block(k: int) -> bytes:
        ls = [f"192.0.2.{k}\t<4>{'May 31' if i % 2 else 'Jun  1'} 12:00:00 kernel: "
              + MSG.format(a=i, i=k * 100 + i, s=k) for i in range(40)]
        return ("\n".join([*ls, f"192.0.2.{k}\tnot a packet"]) + "\n").encode()

    st = Store(tmp_path / "st", create=True)
    with st.lock(), ThreadPoolExecutor(3) as pool:
        rec = commit_blocks(st, [block(k) for k in range(1, 7)], 1, {"source": "t"}, sensor="d",
                            senders=True, year=2024, pool=pool, workers=3)
    assert (rec["rows"], sum(rec["rejected"].values()), rec["lines"]) == (240, 6, 246)
    assert rec["hosts"] == {f"192.0.2.{k}": 40 for k in range(1, 7)}
    assert len(rec["parts"]) == 12 and len(set(rec["parts"])) == 12  # 6 blocks x 2 months
    t = Store(tmp_path / "st").table(["host", "ip_id", "spt"]).to_pandas()
    assert len(t) == 240 and sorted(t.ip_id + 1000 * t.spt) == sorted(
        k * 100 + i + 1000 * k for k in range(1, 7) for i in range(40))


def _send_slowly(port: int, lines: list[str], pause: float) -> None:
    """One connection, one write per line with a pause between: the lines arrive one read at a time."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        for ln in lines:
            s.sendall(ln.encode() + b"\n")
            time.sleep(pause)


def _wait_received(r: Running, n: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while r.col.stats.received < n and time.monotonic() < deadline:
        time.sleep(0.02)
    assert r.col.stats.received == n


def test_lines_arriving_in_small_pieces_are_parsed_as_one_block(tmp_path):
    """Lines that arrive a few at a time are spooled as they come but parsed in blocks of up to
    COMMIT_BLOCK bytes: 150 lines (well under 8 MiB) in 150 reads, one commit → one block, one Parquet
    file for their one month (parsing a block has a fixed cost: a block per read was the bottleneck)."""
    n = 150
    with Running(tmp_path / "st", ["tcp://127.0.0.1:0"], commit_every=60) as r:
        _send_slowly(r.port("tcp"), [line3164(i) for i in range(n)], 0.001)
        _wait_received(r, n)
    rec, = Store(tmp_path / "st").inputs
    assert (rec["rows"], rec["lines"], len(rec["parts"])) == (n, n, 1)
    assert r.stats.blocks == 1 and r.stats.commits == 1


def test_spool_writes_gather_what_arrives_within_the_linger(tmp_path, monkeypatch):
    """Lines that arrive within SPOOL_LINGER of the first are written and fsync'd at once (they count as
    received only then); without it each read was its own write + fsync."""
    monkeypatch.setattr(collect_mod, "SPOOL_LINGER", 0.5)
    n = 20
    with Running(tmp_path / "st", ["tcp://127.0.0.1:0"]) as r:
        _send_slowly(r.port("tcp"), [line3164(i) for i in range(n)], 0.002)
        _wait_received(r, n)
    assert r.stats.fsyncs <= 2
    assert Store(tmp_path / "st").ledger()["rows"] == n


def test_cpu_by_part_adds_up_to_no_more_than_was_used(tmp_path):
    """collect --json's CPU seconds by part: parsing and staging are counted (here on the committer's
    thread, one worker) and not a second time as hand-off; all parts together are at most the CPU this
    process used meanwhile."""
    c0 = time.process_time()
    with Running(tmp_path / "st", ["tcp://127.0.0.1:0"]) as r:
        _send_tcp(r.port("tcp"), "".join(line3164(i) + "\n" for i in range(2000)).encode())
        _wait_received(r, 2000)
    used = time.process_time() - c0
    cpu = r.stats.cpu
    assert cpu["parse"] > 0 and cpu["stage"] > 0 and cpu["receive"] > 0 and cpu["spool"] > 0
    assert min(cpu.values()) >= 0
    parts = sum(v for k, v in cpu.items() if k != "fsync_wait")
    assert parts <= used
    assert r.stats.to_dict()["cpu"] == cpu


def test_workers_read_their_block_from_the_spool(tmp_path):
    """A block handed to a worker travels as (file, start, end), not as its bytes; the record's sha256
    is still that of the bytes committed."""
    import hashlib
    from concurrent.futures import ThreadPoolExecutor

    from honeyscope.ingest import live

    lines = [f"192.0.2.{k}\t" + line3164(k, host=None) for k in range(1, 7)] + ["192.0.2.9\tnot a packet"]
    data = ("\n".join(lines) + "\n").encode()
    spool = tmp_path / "seg.log"
    spool.write_bytes(b"x" * 10 + data)  # the block starts at byte 10
    jobs = []

    class Recording(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kw):
            jobs.append(args[3])
            return super().submit(fn, *args, **kw)

    st = Store(tmp_path / "st", create=True)
    with st.lock(), Recording(2) as pool:
        b = live.Batch(st, 1, "t", sensor="d", senders=True, year=2024, pool=pool, workers=2)
        b.add(data, (str(spool), 10, 10 + len(data)))
        rec = b.commit({"source": "t"})
    assert jobs == [(str(spool), 10, 10 + len(data))]
    assert (rec["rows"], sum(rec["rejected"].values()), rec["lines"]) == (6, 1, 7)
    assert rec["hosts"] == {f"192.0.2.{k}": 1 for k in range(1, 7)}
    assert rec["sha256"] == hashlib.sha256(data).hexdigest()


def test_parse_ceiling_stands_a_sample_in_for_the_parse(tmp_path, monkeypatch):
    """The benchmark's --parse-ceiling (never in real use): one row per line, numbered as the block's
    lines, from the sample's one real parse."""
    from honeyscope.ingest import live

    sample = tmp_path / "sample.log"
    sample.write_text("".join(f"192.0.2.1\t{line3164(i)}\n" for i in range(3)))
    monkeypatch.setenv(live.CEILING_ENV, str(sample))
    monkeypatch.setattr(live, "_CEILING", True)
    monkeypatch.setattr(live, "_ceiling", None)
    block = b"a\tx\nb\ty\nc\tz\nd\tw\ne\tv\n"
    (rows, rejects), = live.parse_block_job(block, 41, "s", "d", True, "UTC", None)
    assert rows.column("line").to_pylist() == [41, 42, 43, 44, 45] and rejects.num_rows == 0
    assert rows.column("spt").to_pylist() == [1, 1, 1, 1, 1]


def test_split_senders_cuts_lines_as_the_file_ingest_does():
    """Random bytes (tabs, CR, LF, invalid and valid UTF-8): the spool's one-pass split gives the lines
    sources.lines_array gives (the file ingest's cutting), each cut at its first tab."""
    import random

    from honeyscope.ingest.live import split_senders
    from honeyscope.ingest.sources import lines_array

    rnd = random.Random(13)
    alphabet = [b"a", b"b", b"\t", b"\r", b"\n", b"\xff", "\u65e5".encode(), b" "]
    for _ in range(500):
        block = b"".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 40)))
        want = [ln.partition("\t") if "\t" in ln else ("", "", ln) for ln in lines_array(block).to_pylist()]
        msgs, senders = split_senders(block)
        assert msgs.to_pylist() == [w[2] for w in want], block
        assert senders.to_pylist() == [w[0] for w in want], block


def test_a_batch_waiting_for_its_blocks_does_not_hold_up_the_next(tmp_path, monkeypatch):
    """A commit that is due waits for its blocks, but the next batch's blocks are handed to the other
    worker meanwhile (here the first block is parsed only once a second one has been handed out: with
    a commit barrier it waits for its timeout). Line numbers go on across the batches."""
    from concurrent.futures import ThreadPoolExecutor

    from honeyscope.ingest import live

    gate, released, firsts = threading.Event(), [], []
    real = live.stage_block_job

    def first_waits_for_second(*args):
        firsts.append(args[4])
        if len(firsts) == 1:
            released.append(gate.wait(10))
        else:
            gate.set()
        return real(*args)

    monkeypatch.setattr(collect_mod, "process_pool", lambda n: ThreadPoolExecutor(n))
    monkeypatch.setattr(live, "stage_block_job", first_waits_for_second)
    with Running(tmp_path / "st", ["tcp://127.0.0.1:0"], workers=2) as r:
        _send_tcp(r.port("tcp"), "".join(line3164(i) + "\n" for i in range(100)).encode())
        _wait_received(r, 100)
        while len(firsts) < 1:
            time.sleep(0.01)
        _send_tcp(r.port("tcp"), "".join(line3164(i) + "\n" for i in range(100, 150)).encode())
        _wait_received(r, 150)
    assert released == [True]
    st = Store(tmp_path / "st")
    ranges = [(i["start_line"], i["end_line"]) for i in st.inputs]
    assert len(ranges) >= 2 and ranges[0][0] == 1 and ranges[-1][1] == 150
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(ranges))
    assert firsts[0] == 1 and firsts == sorted(firsts) and len(firsts) >= 2
    assert sorted(st.table(["ip_id"]).column("ip_id").to_pylist()) == list(range(150))


def test_threads_parse_in_this_process(tmp_path):
    """collect --threads: two parser threads instead of worker processes; every line committed once."""
    from concurrent.futures import ThreadPoolExecutor

    n = 400
    with Running(tmp_path / "st", ["tcp://127.0.0.1:0"], workers=2, threads=True) as r:
        _send_tcp(r.port("tcp"), "".join(line3164(i) + "\n" for i in range(n)).encode())
        _wait_received(r, n)
    assert isinstance(r.col._pool, ThreadPoolExecutor)
    assert sorted(Store(tmp_path / "st").table(["ip_id"]).column("ip_id").to_pylist()) == list(range(n))
