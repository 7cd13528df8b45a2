"""honeyscope against the peer tools a fleet already runs, on one file of plain syslog LOG lines.

Usage: ``python benchmarks/bench_peers.py [--lines N] [--seed S]``

Peers, each run when installed (Debian packages ``fwlogwatch`` and ``psad``), else named as missing:
* ``fwlogwatch -p -d`` — its log summary (packets per source, destination, protocol and port);
* ``psad -A -m FILE`` — psad's offline analysis (scans, signatures, top talkers);
and honeyscope on the same file, each one whole process started from here (files are ingested on
the fly into a temporary store, as a user would run it):
* ``honeyscope count FILE --by src,dst,proto,dpt`` — the same table as fwlogwatch's summary;
* ``honeyscope scans FILE`` — scans typed as psad types them.

The lines are ``honeyscope.synth.generate_lines`` restricted to RFC 3164 lines with a host (the
framing both peers read). honeyscope takes the stamps' year from the file's time, as it does for a
live log (``--year`` would send every line down the general parse path, which handles the
December→January rollover block by block; the compiled one does not).
Prints wall seconds and the ratio peer / honeyscope measured in this run.
fwlogwatch's summary grows faster than linearly with the number of distinct packet keys: keep
``--lines`` modest (the default takes about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
BSD = re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ kernel: ")


def generate(path: Path, n: int, seed: int) -> int:
    from honeyscope.synth.lines import generate_lines

    kept = [line for line in generate_lines(n, seed) if BSD.match(line)]
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return len(kept)


def timed(cmd: list[str], cwd: str) -> float | None:
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    took = time.perf_counter() - t
    return took if r.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=60_000, help="lines generated before the RFC 3164 filter")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "kern.log"
        n = generate(log, a.lines, a.seed)
        print(f"input: {n:,} RFC 3164 LOG lines, {log.stat().st_size / 1e6:.1f} MB")
        hs = [sys.executable, "-m", "honeyscope"]
        runs: dict[str, list[str] | None] = {
            "fwlogwatch -p -d": (["fwlogwatch", "-p", "-d", "-o", str(Path(tmp) / "fw.txt"), str(log)]
                                 if shutil.which("fwlogwatch") else None),
            "psad -A": (["psad", "-A", "-m", str(log)] if shutil.which("psad") else None),
            "honeyscope count": [*hs, "count", str(log), "--by", "src,dst,proto,dpt"],
            "honeyscope scans": [*hs, "scans", str(log)],
        }
        took: dict[str, float | None] = {}
        for name, cmd in runs.items():
            if cmd is None:
                print(f"{name:20} not installed (apt-get install {name.split()[0]})")
                continue
            took[name] = timed(cmd, tmp)
            print(f"{name:20} " + (f"{took[name]:8.2f} s" if took[name] is not None else "failed"))
        for peer, ours in (("fwlogwatch -p -d", "honeyscope count"), ("psad -A", "honeyscope scans")):
            if took.get(peer) and took.get(ours):
                print(f"{peer} / {ours}: {took[peer] / took[ours]:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
