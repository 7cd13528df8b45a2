"""Load test of ``honeyscope collect`` on loopback: SENDERS TCP senders x LINES lines each (half of the
senders octet-counted, half newline-framed) plus garbage lines, into a fresh store.

Prints lines/s into the store (from the first byte sent until the last line is committed), the
collector's CPU time and peak memory (VmHWM), and checks rows = packet lines sent and rejects = garbage lines.

    python benchmarks/bench_collect.py [--senders 4] [--lines 50000] [--garbage 500]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MSG = ("<4>{stamp} sensor{k} kernel: [{up:.6f}] DROP IN=eth0 OUT= "
       "MAC=00:16:3e:aa:bb:cc:00:16:3e:dd:ee:ff:08:00 "
       "SRC={a}.{b}.{c}.{d} DST=203.0.113.{k} LEN=40 TOS=0x00 PREC=0x00 TTL={ttl} ID={i} PROTO=TCP SPT={spt} "
       "DPT={dpt} WINDOW=1024 RES=0x00 SYN URGP=0")


def make_lines(k: int, n: int, garbage: int, seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        stamp = (f"2024-06-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}"
                 f".{i % 1000000:06d}+00:00")
        out.append(MSG.format(stamp=stamp, k=k, up=i * 0.01, a=rnd.randrange(1, 224), b=rnd.randrange(256),
                              c=rnd.randrange(256), d=rnd.randrange(256), ttl=rnd.randrange(30, 250),
                              i=i % 65536, spt=rnd.randrange(1024, 65536),
                              dpt=rnd.choice((22, 23, 80, 443, 445, 1433, 3389))).encode())
    for g in range(garbage):
        out.insert(rnd.randrange(len(out) + 1), f"garbage line {k}-{g}: not a packet".encode())
    return out


def frame(lines: list[bytes], octets: bool) -> bytes:
    if octets:
        return b"".join(str(len(m)).encode() + b" " + m for m in lines)
    return b"\n".join(lines) + b"\n"


def peak_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for row in f:
            if row.startswith("VmHWM:"):
                return int(row.split()[1]) * 1024
    return 0


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, its finished children and its running ones (the parser
    workers)."""
    ticks = sum(int(x) for x in _stat(pid)[11:15])
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = _stat(int(d))
            except OSError:
                continue
            if st[1] == str(pid):  # ppid
                ticks += int(st[11]) + int(st[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def ingest_baseline(payloads: list[bytes], senders: int, lines: int) -> bool:
    """The same lines ingested from one file by ``honeyscope ingest`` (same workers, same sitting): the
    throughput collect is to keep up with. Its time is the ledger's (start-up left out, as above)."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "fleet.log"
        with open(log, "wb") as f:
            for k in range(senders):
                f.write(frame(unframe(payloads[k], octets=k % 2 == 0), octets=False))
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "honeyscope", "ingest", "--store", str(Path(tmp) / "store"),
                            "--json", str(log)], capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
    if r.returncode != 0:
        print(f"baseline: ingest failed: {r.stderr.strip()}")
        return False
    led = json.loads(r.stdout)
    print(f"baseline, same lines from a file: honeyscope ingest {led['seconds']:.2f} s (ledger): "
          f"{lines / led['seconds']:,.0f} lines/s; whole process {wall:.2f} s")
    return led["lines"] == lines


def unframe(data: bytes, octets: bool) -> list[bytes]:
    if not octets:
        return data.split(b"\n")[:-1]
    out, pos = [], 0
    while pos < len(data):
        sp = data.index(b" ", pos)
        end = sp + 1 + int(data[pos:sp])
        out.append(data[sp + 1:end])
        pos = end
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--lines", type=int, default=50_000)
    ap.add_argument("--garbage", type=int, default=500, help="garbage lines per sender")
    ap.add_argument("--commit-every", type=float, default=0.5)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--no-baseline", action="store_true",
                    help="leave out the baseline: `honeyscope ingest` of the same lines from a file")
    args = ap.parse_args()

    payloads = [frame(make_lines(k, args.lines, args.garbage, k), octets=k % 2 == 0)
                for k in range(args.senders)]
    total_rows = args.senders * args.lines
    total_garbage = args.senders * args.garbage
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        p = subprocess.Popen([sys.executable, "-m", "honeyscope", "collect", "--store", str(store),
                              "--listen", "tcp://127.0.0.1:0", "--commit-every", str(args.commit_every)],
                             stderr=subprocess.PIPE, text=True, env=env)
        try:
            ready = p.stderr.readline()
            port = int(re.search(r"tcp://127\.0\.0\.1:(\d+)", ready).group(1))
            cpu_ready = cpu_seconds(p.pid)

            def send(data: bytes) -> None:
                with socket.create_connection(("127.0.0.1", port)) as s:
                    for k in range(0, len(data), 1 << 16):
                        s.sendall(data[k:k + (1 << 16)])

            threads = [threading.Thread(target=send, args=(d,)) for d in payloads]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            t_sent = time.perf_counter() - t0
            rows = rejects = 0
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                try:
                    m = json.loads((store / "manifest.json").read_text())
                except (OSError, ValueError):
                    m = {"inputs": []}
                rows = sum(i["rows"] for i in m["inputs"])
                rejects = sum(sum(i["rejected"].values()) for i in m["inputs"])
                if rows + rejects >= total_rows + total_garbage:
                    break
                time.sleep(0.05)
            t_stored = time.perf_counter() - t0
            rss = peak_rss(p.pid)
            cpu = cpu_seconds(p.pid)
        finally:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(120)
    lines = total_rows + total_garbage
    print(f"{args.senders} TCP senders x {args.lines:,} lines (+{args.garbage} garbage each; "
          f"{sum(k % 2 == 0 for k in range(args.senders))} octet-counted, the others newline-framed)")
    print(f"sent in {t_sent:.2f} s; in the store after {t_stored:.2f} s: {lines / t_stored:,.0f} lines/s "
          f"into the store; collector peak RSS {rss / 2**20:,.0f} MiB; exit code {rc}")
    print(f"collector CPU {cpu:.1f} s in all, {cpu_ready:.1f} s of it starting: "
          f"{lines / (cpu - cpu_ready):,.0f} lines per CPU second after start-up; "
          f"load average while measuring {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"rows {rows:,} (sent {total_rows:,}), rejects {rejects:,} (garbage {total_garbage:,})")
    ok = rows == total_rows and rejects == total_garbage and rc == 0
    if not args.no_baseline:
        ok = ingest_baseline(payloads, args.senders, lines) and ok
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
