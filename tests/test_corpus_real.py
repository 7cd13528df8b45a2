"""941k netfilter lines captured on 60+ Internet-facing hosts (../shared/corpus/real, see its
SOURCES.md and MANIFEST.jsonl): every netfilter line of every file is a row, except the few lines
the capture itself damaged, each listed here with what is wrong with it."""

from __future__ import annotations

import gzip
import json
import random
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from conftest import corpus
from honeyscope.ingest.parse import ParseContext, parse_block

pytestmark = pytest.mark.slow

#: (file, line) → reason, for netfilter lines that are not whole kernel messages (read by eye)
DAMAGED = {
    # two lines glued: the first cut where the syslog daemon restarted ("SRC=Aug 18 ...")
    ("teliten-vultr-ufw/kern.log.2021-06-03_to_08-21_reprovision.gz", 9267): "truncated",
    ("teliten-vultr-ufw/kern.log.2021-06-03_to_08-21_reprovision.gz", 9659): "bad timestamp",
    ("teliten-vultr-ufw/kern.log.2021-06-03_to_08-21_reprovision.gz", 9924): "truncated",
    ("teliten-vultr-ufw/extra/ufw.log.2021-08-22_to_2021-08-29.gz", 812): "truncated",
    ("teliten-vultr-ufw/extra/ufw.log.2021-08-22_to_2021-08-29.gz", 1109): "truncated",
    ("teliten-vultr-ufw/extra/ufw.log.2021-08-16_to_2021-08-21.gz", 8321): "truncated",
    ("teliten-vultr-ufw/extra/ufw.log.2021-08-16_to_2021-08-21.gz", 8336): "truncated",
    ("teliten-vultr-ufw/extra/ufw.log.2021-08-16_to_2021-08-21.gz", 8728): "bad timestamp",
    ("teliten-vultr-ufw/extra/ufw.log.2021-08-16_to_2021-08-21.gz", 8993): "truncated",
    # rsyslog's "message repeated 28 times: [ ... ]" wraps the message in brackets
    ("alfonsodeuna-ubuntu2204-ufw/ufw.log.gz", 16): "truncated",
    # ring-buffer loss inside the line: "SRC=127.0.0.53 DS.189.91.96", "LEN=5T=127.0.0.1"
    ("alfonsodeuna-ubuntu2204-ufw/ufw.log.gz", 48): "truncated",
    ("alfonsodeuna-ubuntu2204-ufw/ufw.log.gz", 52): "bad value",
    # "RES=0x00 ;p[" : the flags and URGP= replaced by keyboard noise
    ("dariusstrasel-mail/ufw.log", 6): "truncated",
}


def _lines(path) -> list[str]:
    b = path.read_bytes()
    if b[:2] == b"\x1f\x8b":
        b = gzip.decompress(b)
    lines = b.decode("utf-8", "replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _manifest() -> list[dict]:
    real = corpus("real")
    return [json.loads(x) for x in (real / "MANIFEST.jsonl").read_text().splitlines() if x.strip()]


def test_every_netfilter_line_of_every_file_is_a_row() -> None:
    real = corpus("real")
    for rec in _manifest():
        name = f"{rec['dir']}/{rec['file']}"
        lines = _lines(real / rec["dir"] / rec["file"])
        assert len(lines) == rec["lines"], name
        ctx = ParseContext(source=name, reference_time=datetime(2026, 1, 1, tzinfo=UTC))
        rows = 0
        bad = {}
        for at in range(0, len(lines), 50_000):
            res = parse_block(pa.array(lines[at: at + 50_000], pa.string()), at + 1, ctx)
            rows += res.rows.num_rows
            rej = res.rejects.to_pydict()
            for ln, reason, text in zip(rej["line"], rej["reason"], rej["text"], strict=True):
                if "IN=" in text and " OUT=" in text and "SRC=" in text:
                    bad[(name, ln)] = reason
        want = {k: v for k, v in DAMAGED.items() if k[0] == name}
        assert bad == want, name
        assert rows == rec["nf_lines"] - len(want), name


def test_prefixes_of_real_lines_are_rejected_or_the_same_row() -> None:
    """The issue's measure (127 of 8,356 prefixes of 40 real lines became rows with other
    values) made 0: each cut line is parsed in a block of whole lines of its file."""
    real = corpus("real")
    rng = random.Random(9)
    picked: list[str] = []
    for rec in _manifest():
        if rec["nf_lines"] < 100 or len(picked) >= 40:
            continue
        lines = [x for x in _lines(real / rec["dir"] / rec["file"])[:3000] if " OUT=" in x]
        picked += rng.sample(lines, 3)
    picked = picked[:40]
    ctx = ParseContext(source="r", reference_time=datetime(2026, 1, 1, tzinfo=UTC), year=2023)
    whole = parse_block(pa.array(picked, pa.string()), 1, ctx)
    assert whole.rejects.num_rows == 0
    want = {r["line"]: {k: v for k, v in r.items() if k != "line"} for r in whole.rows.to_pylist()}
    optional = ("OPT (", "UID=", "MARK=")  # a cut just before these is a whole line too
    cuts = [(i, k) for i, s in enumerate(picked) for k in range(s.index("IN="), len(s))
            if not (s[k - 1] == " " and s[k:].startswith(optional))]
    assert len(cuts) > 5000
    differing = 0
    step = len(picked) - 1
    for at in range(0, len(cuts), step):
        chunk = cuts[at: at + step]
        block = picked + [picked[i][:k] for i, k in chunk]
        res = parse_block(pa.array(block, pa.string()), 1, ctx)
        for r in res.rows.to_pylist():
            if r["line"] > len(picked):
                i = chunk[r["line"] - len(picked) - 1][0]
                differing += {k: v for k, v in r.items() if k != "line"} != want[i + 1]
    assert differing == 0
