"""``kill -9`` of a collect mid-stream, ten times at random moments, then a restart: every line that
reached the spool (was acknowledged) is in the store exactly once (slow: eleven processes)."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from honeyscope.store.store import Store

ROOT = Path(__file__).resolve().parents[1]


def _line(i: int) -> bytes:
    return (f"<4>Jun  1 12:00:00 s1 kernel: DROP IN=eth0 OUT= SRC=198.51.100.{i % 250} DST=203.0.113.1 "
            f"LEN=40 TOS=0x00 PREC=0x00 TTL=50 ID={i % 65536} PROTO=TCP SPT={i // 65536 + 1} DPT=23 "
            "WINDOW=1 RES=0x00 SYN URGP=0").encode()


def _key(text: str) -> int:
    m = re.search(r"ID=(\d+) PROTO=TCP SPT=(\d+)", text)
    assert m, text
    return int(m.group(1)) + 65536 * (int(m.group(2)) - 1)


def _start(store: Path, workers: int) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    p = subprocess.Popen([sys.executable, "-m", "honeyscope", "collect", "--store", str(store), "--listen",
                          "tcp://127.0.0.1:0", "--commit-every", "0.1", "--workers", str(workers)],
                         env=env, stderr=subprocess.PIPE, text=True)
    ready = p.stderr.readline()
    m = re.search(r"tcp://127\.0\.0\.1:(\d+)", ready)
    assert m, ready + p.stderr.read()
    return p, int(m.group(1))


@pytest.mark.slow
def test_kill_9_ten_times_loses_and_duplicates_nothing(tmp_path):
    seed = int(time.time())
    rnd = random.Random(seed)
    store = tmp_path / "st"
    next_id = 0
    for round_ in range(10):
        p, port = _start(store, workers=2 if round_ % 3 == 0 else 1)
        stop = threading.Event()

        def send(port: int = port, stop: threading.Event = stop, octets: bool = round_ % 2 == 0) -> None:
            nonlocal next_id
            try:
                with socket.create_connection(("127.0.0.1", port)) as s:
                    while not stop.is_set():
                        msgs = [_line(next_id + k) for k in range(50)]
                        if octets:
                            data = b"".join(str(len(m)).encode() + b" " + m for m in msgs)
                        else:
                            data = b"\n".join(msgs) + b"\n"
                        next_id += 50
                        s.sendall(data)
                        time.sleep(0.002)
            except OSError:
                pass  # the collector was killed

        t = threading.Thread(target=send)
        t.start()
        time.sleep(rnd.uniform(0.2, 1.5))
        os.kill(p.pid, signal.SIGKILL)
        p.wait(30)
        p.stderr.close()
        stop.set()
        t.join(30)
    p, _ = _start(store, workers=1)  # the restart commits what the last run left in the spool
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == 0, f"seed {seed}"
    p.stderr.close()

    spooled = []
    for seg in sorted((store / "spool").glob("seg-*.log")):
        spooled += [_key(x.split("\t", 1)[1]) for x in seg.read_text().splitlines()]
    assert spooled, "nothing reached the spool"
    t = Store(store).table(["ip_id", "spt"])
    stored = [a + 65536 * (b - 1) for a, b in zip(t.column("ip_id").to_pylist(),
                                                  t.column("spt").to_pylist(), strict=True)]
    assert len(set(stored)) == len(stored), f"duplicates (seed {seed})"
    assert sorted(stored) == sorted(spooled), f"seed {seed}"
    assert max(stored) < next_id
    assert Store(store).ledger()["rejected_total"] == 0, f"a half line was committed (seed {seed})"
