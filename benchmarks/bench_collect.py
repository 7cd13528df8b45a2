"""Load test of ``honeyscope collect`` on loopback: SENDERS TCP senders x LINES lines each (half of the
senders octet-counted, half newline-framed) plus garbage lines, into a fresh store.

Prints lines/s into the store (from the first byte sent until the last line is committed) and, so that
a run on a busy machine can be told from collect's own limit, the CPU seconds of collect's whole process
tree (lines per CPU second), the load average while measuring and how much of the machine's CPU other
processes took; collect's CPU by part (receiving, spooling, hand-off, parsing, Parquet staging, commit;
from ``collect --json``), its peak memory (VmHWM), and checks rows = packet lines sent and rejects =
garbage lines. ``--parse-ceiling`` measures the pipeline with parsing excluded (labelled as such);
``--src`` measures another source tree (the code before a change, another branch) in the same sitting.

    python benchmarks/bench_collect.py [--senders 4] [--lines 50000] [--garbage 500] [--rate 20000]
                                       [--parse-ceiling] [--src DIR] [--no-baseline]
"""

from __future__ import annotations

import argparse
import contextlib
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


def _status(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for row in f:
            if row.startswith(key):
                return int(row.split()[1]) * 1024
    return 0


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the parser workers, multiprocessing's helpers)."""
    parent: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                parent[int(d)] = int(_stat(int(d))[1])
            except (OSError, IndexError, ValueError):
                continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += [c for c, pp in parent.items() if pp == p]
    return out


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of the process tree under ``pid``: running processes and the children
    they have waited for."""
    ticks = 0
    for p in tree(pid):
        with contextlib.suppress(OSError):
            ticks += sum(int(x) for x in _stat(p)[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_peak_rss(pid: int) -> tuple[int, int]:
    """Peak RSS (VmHWM) of ``pid`` alone, and summed over its tree."""
    own = _status(pid, "VmHWM:")
    total = 0
    for p in tree(pid):
        with contextlib.suppress(OSError):
            total += _status(p, "VmHWM:")
    return own, total


def machine_busy() -> float:
    """CPU seconds all processes of the machine have used (``/proc/stat``, not idle nor iowait)."""
    with open("/proc/stat") as f:
        cols = [int(x) for x in f.readline().split()[1:]]
    return (sum(cols[:8]) - cols[3] - cols[4]) / os.sysconf("SC_CLK_TCK")


class LoadSampler(threading.Thread):
    """The 1-minute load average every half second while measuring."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.samples.append(os.getloadavg()[0])
            self.done.wait(0.5)

    def stop(self) -> tuple[float, float]:
        self.done.set()
        self.join()
        return (sum(self.samples) / len(self.samples), max(self.samples)) if self.samples else (0.0, 0.0)


def ingest_baseline(payloads: list[bytes], senders: int, lines: int, env: dict[str, str]) -> bool:
    """The same lines ingested from one file by ``honeyscope ingest`` (same workers, same sitting): the
    throughput collect is to keep up with. Its time is the ledger's (start-up left out, as above)."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "fleet.log"
        with open(log, "wb") as f:
            for k in range(senders):
                f.write(frame(unframe(payloads[k], octets=k % 2 == 0), octets=False))
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


PARTS = (("receive", "receiving and framing (event loop)"), ("spool", "spool write + fsync (writer thread)"),
         ("handoff", "cutting, hashing, handing out blocks"), ("parse", "workers: parse_block and reading"),
         ("stage", "workers: Parquet staging"), ("commit", "commit: moves + manifest"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--lines", type=int, default=50_000)
    ap.add_argument("--garbage", type=int, default=500, help="garbage lines per sender")
    ap.add_argument("--commit-every", type=float, default=0.5)
    ap.add_argument("--rate", type=float, default=0.0, metavar="LINES_PER_S",
                    help="send at this many lines/s in all, evenly (default: as fast as collect reads them, "
                         "a burst): a fleet's steady stream, where lines arrive a few at a time")
    ap.add_argument("--workers", type=int, help="collect's parser processes (default: its own)")
    ap.add_argument("--threads", action="store_true",
                    help="collect --threads: parse on threads, not processes")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--src", type=Path, default=ROOT / "src",
                    help="the source tree to measure (default: this checkout's src)")
    ap.add_argument("--parse-ceiling", action="store_true",
                    help="the pipeline's own ceiling: each worker parses a sample of the lines once and "
                         "stands its rows in for every block's parse (rows + rejects = lines is checked, "
                         "not which lines are rejects)")
    ap.add_argument("--no-baseline", action="store_true",
                    help="leave out the baseline: `honeyscope ingest` of the same lines from a file")
    args = ap.parse_args()

    payloads = [frame(make_lines(k, args.lines, args.garbage, k), octets=k % 2 == 0)
                for k in range(args.senders)]
    total_rows = args.senders * args.lines
    total_garbage = args.senders * args.garbage
    lines = total_rows + total_garbage
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        env = dict(os.environ, PYTHONPATH=str(args.src.resolve()))
        if args.parse_ceiling:
            sample = Path(tmp) / "sample.log"
            sample.write_bytes(b"".join(b"127.0.0.1\t" + m + b"\n" for m in make_lines(99, 30_000, 0, 99)))
            env["HONEYSCOPE_BENCH_PARSE_CEILING"] = str(sample)
        cmd = [sys.executable, "-m", "honeyscope", "collect", "--store", str(store), "--listen",
               "tcp://127.0.0.1:0", "--commit-every", str(args.commit_every), "--json"]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        if args.threads:
            cmd += ["--threads"]
        p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        out = ""
        try:
            ready = p.stderr.readline()
            port = int(re.search(r"tcp://127\.0\.0\.1:(\d+)", ready).group(1))

            # --rate: each sender sends its share of the lines per second, in pieces of 1/50 s
            per_sender = args.rate / args.senders if args.rate else 0.0
            start = time.perf_counter() + 0.05

            def send(data: bytes) -> None:
                step = 1 << 16
                if per_sender:
                    step = max(256, int(len(data) / (args.lines + args.garbage) * per_sender / 50))
                with socket.create_connection(("127.0.0.1", port)) as s:
                    for k in range(0, len(data), step):
                        if per_sender:
                            lag = start + k / len(data) * (args.lines + args.garbage) / per_sender \
                                - time.perf_counter()
                            if lag > 0:
                                time.sleep(lag)
                        s.sendall(data[k:k + step])

            threads = [threading.Thread(target=send, args=(d,)) for d in payloads]
            load = LoadSampler()
            load.start()
            cpu0, busy0, own0 = tree_cpu(p.pid), machine_busy(), time.process_time()
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
                if rows + rejects >= lines:
                    break
                time.sleep(0.05)
            t_stored = time.perf_counter() - t0
            cpu, busy, own = tree_cpu(p.pid) - cpu0, machine_busy() - busy0, time.process_time() - own0
            load_mean, load_max = load.stop()
            rss, rss_tree = tree_peak_rss(p.pid)
        finally:
            p.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                out, _ = p.communicate(timeout=120)
            rc = p.wait(10)
    print(f"{args.senders} TCP senders x {args.lines:,} lines (+{args.garbage} garbage each; "
          f"{sum(k % 2 == 0 for k in range(args.senders))} octet-counted, the others newline-framed)"
          + ("\nPARSE CEILING: every block's parse replaced by a sample's rows (not a real parse)"
             if args.parse_ceiling else ""))
    cores = os.cpu_count() or 1
    print(f"{'sent at ' + format(args.rate, ',.0f') + ' lines/s' if args.rate else 'sent as a burst'}: "
          f"sent in {t_sent:.2f} s; in the store after {t_stored:.2f} s: {lines / t_stored:,.0f} lines/s "
          f"into the store{' (parse ceiling)' if args.parse_ceiling else ''}; exit code {rc}")
    print(f"collect's process tree: {cpu:.2f} CPU s = {lines / cpu:,.0f} lines per CPU second "
          f"(senders here {own:.2f} CPU s); peak RSS {rss / 2**20:,.0f} MiB collect, "
          f"{rss_tree / 2**20:,.0f} MiB with its workers")
    print(f"load while measuring: load average {load_mean:.1f} (max {load_max:.1f}) on {cores} cores; the "
          f"machine was busy {busy:.1f} of {cores * t_stored:.1f} CPU s, {max(busy - cpu - own, 0):.1f} of "
          f"them other processes' (0 = an idle machine: the wall time is then collect's own limit)")
    print(f"collect had {cpu / t_stored:.2f} of the {cores} cores on average; with all {cores} to itself it "
          f"would reach at most {lines / cpu * cores:,.0f} lines/s (lines per CPU second x cores: "
          f"an upper bound, as if its processes overlapped perfectly)")
    try:
        d = json.loads(out)
    except ValueError:
        d = {}
    if "cpu" in d:
        c = d["cpu"]
        print(f"CPU s per 100k lines by part ({d['blocks']} blocks, {d['fsyncs']} spool fsyncs "
              f"waiting {c['fsync_wait']:.2f} s):")
        for k, label in PARTS:
            print(f"  {label:40s} {c[k] / lines * 1e5:6.3f}")
        print(f"  {'all parts':40s} {sum(c[k] for k, _ in PARTS) / lines * 1e5:6.3f} "
              f"(process tree: {cpu / lines * 1e5:.3f})")
        if args.threads:
            print("  (--threads: a parser thread's CPU leaves out the parser's own helper threads; "
                  "the process tree's counts them)")
    print(f"rows {rows:,} (sent {total_rows:,}), rejects {rejects:,} (garbage {total_garbage:,})")
    if args.parse_ceiling:
        ok = rows + rejects == lines and rc == 0
    else:
        ok = rows == total_rows and rejects == total_garbage and rc == 0
    if not args.no_baseline:
        env.pop("HONEYSCOPE_BENCH_PARSE_CEILING", None)
        ok = ingest_baseline(payloads, args.senders, lines, env) and ok
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
