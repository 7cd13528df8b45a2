"""Ingest I/O (issue 9): rotated logs counted once, years per sensor, held-back lines said, damaged
archives survived, long lines bounded, worker processes dying with their parent, directory filters,
binary and special inputs. Every input here is written by the test."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

import honeyscope
from honeyscope.cli import main as cli

OLD = time.time() - 3600  # an mtime older than a live log's minute


def line(i: int, host: str = "h1", ts: str | None = None) -> str:
    ts = ts or f"Mar  3 21:{i // 60 % 60:02d}:{i % 60:02d}"
    return (f"{ts} {host} kernel: [UFW BLOCK] IN=eth0 OUT= SRC=10.0.{i // 256 % 256}.{i % 256} "
            "DST=172.30.0.64 LEN=40 TOS=0x00 PREC=0x00 TTL=41 ID=6624 PROTO=TCP SPT=43861 DPT=23 "
            "WINDOW=24253 RES=0x00 SYN URGP=0\n")


def lines(a: int, b: int) -> str:
    return "".join(line(i) for i in range(a, b))


def write(p: Path, data: str | bytes, mtime: float = OLD) -> Path:
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    os.utime(p, (mtime, mtime))
    return p


def rows(store: Path) -> list[str]:
    return honeyscope.open_store(store).polars()["src"].to_list()


# ---- 1. rotation ---------------------------------------------------------------------------------

@pytest.mark.slow  # (> 3 s on a loaded machine: several ingests or a subprocess)
def test_logrotate_sequence_counts_every_line_once(tmp_path):
    """logrotate with compress + delaycompress: kern.log → kern.log.1 → kern.log.2.gz, new lines at
    every step, ``kern.log*`` ingested after each: the store holds each distinct line once."""
    d, s = tmp_path / "log", tmp_path / "s"
    d.mkdir()

    def ingest():
        return honeyscope.ingest([str(d / "kern.log*")], s, year=2024, workers=1)

    write(d / "kern.log", lines(0, 10))
    ingest()
    # lines appended, then rotated: kern.log → kern.log.1, a new kern.log
    write(d / "kern.log", (d / "kern.log").read_text() + lines(10, 15))
    os.rename(d / "kern.log", d / "kern.log.1")
    write(d / "kern.log", lines(15, 20))
    led = ingest()
    assert {Path(i.source).name: (i.status, i.rows) for i in led.inputs} == {
        "kern.log": ("added", 5), "kern.log.1": ("grown", 5)}
    # next rotation: kern.log.1 compressed to kern.log.2.gz, kern.log → kern.log.1
    write(d / "kern.log", (d / "kern.log").read_text() + lines(20, 22))
    write(d / "kern.log.2.gz", gzip.compress((d / "kern.log.1").read_bytes()))
    os.remove(d / "kern.log.1")
    os.rename(d / "kern.log", d / "kern.log.1")
    write(d / "kern.log", lines(22, 25))
    led = ingest()
    assert {Path(i.source).name: (i.status, i.rows) for i in led.inputs} == {
        "kern.log": ("added", 3), "kern.log.1": ("grown", 2),
        "kern.log.2.gz": ("skipped: already ingested", 0)}
    got = rows(s)
    assert len(got) == 25 and len(set(got)) == 25
    # a compressed copy that goes further than a committed text adds only what is new, numbered on
    write(d / "all.xz", lzma.compress(lines(0, 15).encode() + lines(30, 32).encode()))
    led = honeyscope.ingest([str(d / "all.xz")], s, year=2024, workers=1)
    assert (led.inputs[0].status, led.inputs[0].rows) == ("grown", 2)
    new = honeyscope.open_store(s).polars().filter(source=str(d / "all.xz"))
    assert sorted(new["line"].to_list()) == [16, 17]


def test_new_texts_are_not_scanned_before_they_are_parsed(tmp_path, monkeypatch):
    """A compressed input is decompressed and hashed by a pass of its own (``sources.scan``) only
    where its first line is a committed text's: the one pass that can find it already ingested,
    or grown. A new day's rotated file is read once; the same text again, or grown, is still
    found; a store whose records predate first lines scans as before."""
    from honeyscope.ingest import sources

    scanned: list[str] = []
    real = sources.scan
    monkeypatch.setattr(sources, "scan", lambda inp, keys: (scanned.append(Path(inp.name).name),
                                                            real(inp, keys))[1])
    d, s = tmp_path / "log", tmp_path / "s"
    d.mkdir()
    for k in range(3):  # three days of rotated logs, each its own lines
        write(d / f"kern.log.{k + 2}.gz", gzip.compress(lines(10 * k, 10 * k + 10).encode()))
    led = honeyscope.ingest([str(d)], s, year=2024)
    assert (led.rows, scanned) == (30, [])
    write(d / "copy.gz", gzip.compress(lines(10, 20).encode()))  # a day's text again
    write(d / "more.xz", lzma.compress(lines(20, 33).encode()))  # a day's text, grown
    led = honeyscope.ingest([str(d / "copy.gz"), str(d / "more.xz")], s, year=2024)
    assert [(i.status, i.rows) for i in led.inputs] == [("skipped: already ingested", 0),
                                                       ("grown", 3)]
    assert scanned == ["copy.gz", "more.xz"]
    # an older store's records: no first line known, every input scanned
    m = json.loads((s / "manifest.json").read_text())
    for r in m["inputs"]:
        r.pop("first_line_sha256")
    (s / "manifest.json").write_text(json.dumps(m))
    write(d / "new.gz", gzip.compress(lines(40, 42).encode()))
    scanned.clear()
    led = honeyscope.ingest([str(d / "new.gz")], s, year=2024)
    assert (led.rows, scanned) == (2, ["new.gz"])


def test_records_of_older_stores_still_dedupe(tmp_path):
    """A record with only the raw sha256 (stores written before content digests) still makes the
    same file a duplicate and a grown file add only its new lines."""
    f, s = write(tmp_path / "k.log", lines(0, 5)), tmp_path / "s"
    honeyscope.ingest([str(f)], s, year=2024)
    m = json.loads((s / "manifest.json").read_text())
    for r in m["inputs"]:
        for k in ("content_sha256", "content_bytes", "content_start"):
            r.pop(k)
    (s / "manifest.json").write_text(json.dumps(m))
    assert honeyscope.ingest([str(f)], s, year=2024).inputs[0].status == "skipped: already ingested"
    write(f, lines(0, 7))
    led = honeyscope.ingest([str(f)], s, year=2024)
    assert (led.inputs[0].status, led.rows) == ("grown", 2)


# ---- 2. years ------------------------------------------------------------------------------------

def test_new_year_is_decided_per_sensor(tmp_path):
    f = write(tmp_path / "k.log", "".join([
        line(1, "h1", "Dec 31 23:59:58"), line(2, "h1", "Jan  1 00:00:01"),
        line(3, "h2", "Dec 31 23:59:59"), line(4, "h2", "Jan  1 00:00:02"),
        line(5, "h1", "Dec 31 23:59:57"),  # two seconds late: reordering, not a year back
        line(6, "h1", "Jan  1 00:00:03"),
    ]))
    led = honeyscope.ingest([str(f)], tmp_path / "s", year=2024, workers=1)
    t = honeyscope.open_store(tmp_path / "s").polars().sort("line")
    assert [x.isoformat() for x in t["time"]] == [
        "2024-12-31T23:59:58+00:00", "2025-01-01T00:00:01+00:00",
        "2024-12-31T23:59:59+00:00", "2025-01-01T00:00:02+00:00",
        "2024-12-31T23:59:57+00:00", "2025-01-01T00:00:03+00:00"]
    assert led.inputs[0].years == {"2024": 3, "2025": 3}


def test_inputs_years_apart_are_warned_about(tmp_path, capsys):
    """RFC 3339 lines of 2024 beside a year-less log whose fresh mtime places it in 2026."""
    a = write(tmp_path / "a.log", line(1, "h1", "2024-03-03T21:53:59+00:00"))
    b = write(tmp_path / "b.log", line(2, "h2"), mtime=time.mktime((2026, 6, 1, 0, 0, 0, 0, 0, -1)))
    assert cli(["ingest", str(a), str(b), "--store", str(tmp_path / "s"), "--json"]) == 0
    cap = capsys.readouterr()
    d = json.loads(cap.out)
    assert [i["years"] for i in d["inputs"]] == [{"2024": 1}, {"2026": 1}]
    assert any("different years" in w for w in d["warnings"])
    assert any("gap of" in w for w in d["warnings"])
    assert "warning: inputs placed in different years" in cap.err


# ---- 6. the held-back last line --------------------------------------------------------------------

@pytest.mark.slow  # (> 3 s on a loaded machine: several ingests or a subprocess)
def test_unterminated_line_of_a_live_log_is_said_and_analyses_read_it(tmp_path, capsys):
    f = tmp_path / "live.log"
    f.write_text(lines(0, 3) + line(3).rstrip("\n"))  # written just now, last line unterminated
    assert cli(["ingest", str(f), "--store", str(tmp_path / "s")]) == 0
    out = " ".join(capsys.readouterr().out.split())  # (rich wraps to the terminal's width)
    assert "1 unterminated line left for the next ingest" in out
    assert len(rows(tmp_path / "s")) == 3
    # an analysis of the file itself (ingested on the fly) reads every line
    assert honeyscope.resolve_store([str(f)]).table().num_rows == 4


# ---- 9. damaged archives ---------------------------------------------------------------------------

def _zstd(b: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor().compress(b)


COMPRESS = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress, "zst": _zstd}


@pytest.mark.parametrize("ext", sorted(COMPRESS))
def test_damaged_archives_keep_what_decompresses_and_the_run_goes_on(tmp_path, capsys, ext):
    """Two members / streams / frames: the first whole (40 lines), the second cut after 10 bytes, or
    followed by garbage. The first member's lines are kept, the damage is a reject with its byte
    offset, the next input is still ingested, and the exit code is 1 naming the file."""
    comp = COMPRESS[ext]
    first = comp(lines(0, 40).encode())
    second = comp(lines(40, 400).encode())
    cut = write(tmp_path / f"cut.{ext}", first + second[:10])  # too little of it to decompress
    junk = write(tmp_path / f"junk.{ext}", comp(lines(500, 540).encode()) + b"\x01garbage" * 50)
    after = write(tmp_path / "z.log", lines(600, 602))
    rc = cli(["ingest", str(cut), str(junk), str(after), "--store", str(tmp_path / "s"), "--json"])
    cap = capsys.readouterr()
    assert rc == 1
    d = json.loads(cap.out)
    by = {Path(i["source"]).name: i for i in d["inputs"]}
    assert by[cut.name]["rows"] == 40 and by[cut.name]["rejected"] == {"truncated archive": 1}
    assert by[junk.name]["rows"] == 40 and by[junk.name]["rejected"] == {"corrupt archive": 1}
    assert by["z.log"]["rows"] == 2
    assert f"{cut}: truncated archive" in cap.err and f"{junk}: corrupt archive" in cap.err
    assert len(cap.err.strip().splitlines()) == 2  # one line each, no traceback
    rej = {r["source"]: r for r in honeyscope.open_store(tmp_path / "s").rejects().to_pylist()}
    assert f"cut at byte {len(first) + 10:,}" in rej[str(cut)]["text"]
    # again: nothing added twice, the damage still said
    assert cli(["ingest", str(cut), "--store", str(tmp_path / "s")]) == 1
    assert len(rows(tmp_path / "s")) == 82


def test_text_starting_with_gzip_magic_and_multi_member_gzip(tmp_path):
    text = write(tmp_path / "odd.log", b"\x1f\x8b not gzip at all\n" + lines(0, 2).encode())
    multi = write(tmp_path / "m.gz", gzip.compress(lines(10, 20).encode())
                  + gzip.compress(lines(20, 30).encode()))
    led = honeyscope.ingest([str(text), str(multi)], tmp_path / "s", year=2024)
    assert [(i.compression, i.lines, i.rows) for i in led.inputs] == [(None, 3, 2), ("gzip", 20, 20)]
    assert not led.errors()


# ---- 10. long lines ------------------------------------------------------------------------------

def test_long_lines_are_cut_as_they_stream(tmp_path):
    """A 24 MiB line between two packets: rejected as too long, its kept text bounded, and no
    block the reader yields is much bigger than the block size (the old reader kept the whole
    line in memory)."""
    from honeyscope.ingest import sources
    from honeyscope.ingest.parse import MAX_REJECT_TEXT
    from honeyscope.ingest.parse_rules import MAX_LINE_BYTES

    f = write(tmp_path / "long.log", line(1) + "A" * (24 << 20) + "\n" + line(2))
    r = sources.Reader(sources.Input(str(f), f))
    sizes = [len(b) for b in r.blocks(1 << 20)]
    r.close()
    assert max(sizes) <= (1 << 20) + MAX_LINE_BYTES + 1 and r.long_lines == 1
    led = honeyscope.ingest([str(f)], tmp_path / "s", year=2024, block_size=1 << 20)
    assert (led.lines, led.rows, led.rejected()) == (3, 2, {"line too long": 1})
    rej = honeyscope.open_store(tmp_path / "s").rejects().to_pylist()
    assert rej[0]["line"] == 2 and len(rej[0]["text"]) <= MAX_REJECT_TEXT


@pytest.mark.slow  # (> 3 s on a loaded machine: several ingests or a subprocess)
def test_dev_zero_on_stdin_is_refused_in_bounded_time(tmp_path):
    with open("/dev/zero", "rb") as zero:
        p = subprocess.run([sys.executable, "-m", "honeyscope", "ingest", "-", "--store",
                            str(tmp_path / "s")], stdin=zero, capture_output=True, text=True,
                           timeout=120)
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == ["honeyscope: error: -: refused: binary data (only NUL "
                                             "bytes), not log text"]


# ---- 14. directories -----------------------------------------------------------------------------

def test_directory_skips_its_store_and_files_that_are_not_logs(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    write(d / "kern.log", lines(0, 2))
    write(d / "README.md", line(5))  # a log line quoted in a note: not an input
    write(d / "fleet.json", '{"sensors": []}\n')
    write(d / "other.json", '{"a": 1}\n')
    write(d / "journal.json", json.dumps({"__REALTIME_TIMESTAMP": "1709502839000000",
                                          "_HOSTNAME": "j1", "MESSAGE": line(7).split(": ", 1)[1].rstrip()})
          + "\n")
    write(d / "mac.log", line(10).rstrip("\n") + "\r" + line(11).rstrip("\n") + "\r")  # CR-only
    store = d / "store"  # the store inside its own input directory
    honeyscope.ingest([str(d)], store, year=2024)
    led = honeyscope.ingest([str(d)], store, year=2024)  # again: the store's files are not inputs
    assert {Path(i.source).name for i in led.inputs} == {"kern.log", "journal.json", "mac.log"}
    assert sorted(rows(store)) == sorted(["10.0.0.0", "10.0.0.1", "10.0.0.7", "10.0.0.10",
                                          "10.0.0.11"])
    led = honeyscope.ingest([str(d)], tmp_path / "s2", year=2024, include=["*.md"],
                            exclude=["kern*"])
    assert {Path(i.source).name for i in led.inputs} == {"README.md", "journal.json", "mac.log"}


def test_parquet_given_as_input_is_refused_and_the_run_goes_on(tmp_path, capsys):
    store = tmp_path / "s"
    honeyscope.ingest([str(write(tmp_path / "a.log", lines(0, 2)))], store, year=2024)
    part = next((store / "packets").rglob("*.parquet"))
    b = write(tmp_path / "b.log", lines(2, 3))
    assert cli(["ingest", str(part), str(b), "--store", str(tmp_path / "t")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"honeyscope: error: {part}: refused: Parquet file, not log text"]
    assert len(rows(tmp_path / "t")) == 1


def _utmp_records(n: int) -> bytes:
    """``n`` records laid out as glibc's ``struct utmp`` (384 bytes: type, pid, line, id, user,
    host, exit, session, time, address), as /var/log/wtmp holds them."""
    import struct

    out = b""
    for i in range(n):
        out += struct.pack("<hxxi32s4s32s256shhiii16s20x", 7, 1000 + i, b"pts/%d" % i, b"ts/%d" % i,
                           b"root", b"203.0.113.%d" % i, 0, 0, 0, 1_700_000_000 + 37 * i, 4242 * i,
                           bytes([203, 0, 113, i % 256]) + bytes(12))
    return out


@pytest.mark.parametrize("data, why", [
    (random.Random(1).randbytes(100_000), "random bytes: about 11% control bytes"),
    (_utmp_records(300), "a wtmp file: NUL padding and integers among its text fields"),
])
def test_binary_data_given_as_input_is_refused(tmp_path, capsys, data, why):
    f = write(tmp_path / "wtmp", data)
    assert cli(["ingest", str(f), "--store", str(tmp_path / "s")]) == 1, why
    assert capsys.readouterr().err.strip() == (
        f"honeyscope: error: {f}: refused: binary data (control bytes), not log text")


@pytest.mark.parametrize("text, why", [
    (lines(0, 20).encode() + bytes(4096) + lines(20, 40).encode(),
     "a hole of NUL bytes a crash left in the log"),
    (bytes(8192) + lines(0, 40).encode(), "the hole at the start"),
    ("".join(f"\x1b[31m{ln.rstrip()}\x1b[0m\t\n" for ln in lines(0, 40).splitlines()).encode(),
     "ANSI colour codes and tabs"),
    ("".join(ln.rstrip() + " café déjà-vu\n" for ln in lines(0, 40).splitlines()).encode("latin-1"),
     "Latin-1 letters"),
    ("".join(ln.rstrip() + " Привет мир\n" for ln in lines(0, 40).splitlines()).encode("cp1251"),
     "Cyrillic in a legacy 8-bit code page"),
])
def test_text_with_odd_bytes_is_read_as_log_text(tmp_path, text, why):
    from honeyscope.ingest.sources import binary_kind

    assert binary_kind(text[:65536]) is None, why


def test_empty_inputs_are_skipped_as_empty_and_leave_no_record(tmp_path):
    store = tmp_path / "s"
    empty = write(tmp_path / "empty.log", "")
    # a log being written (modified just now): one line, its end not written yet
    cut = write(tmp_path / "cut.log", line(1).rstrip("\n"), mtime=time.time())
    led = honeyscope.ingest([str(empty), str(cut)], store, year=2024)
    assert [(i.status, i.lines, i.held) for i in led.inputs] == [
        ("skipped: empty", 0, 0), ("skipped: no complete line", 0, 1)]
    # another empty input is empty too, not "already ingested" because the first one was
    p = subprocess.run([sys.executable, "-m", "honeyscope", "ingest", "-", "--store", str(store),
                        "--json"], input="", capture_output=True, text=True, timeout=120)
    assert json.loads(p.stdout)["inputs"][0]["status"] == "skipped: empty"
    assert honeyscope.open_store(store).records == []
    # the line, once written whole, is added
    write(cut, line(1) + line(2), mtime=time.time())
    led = honeyscope.ingest([str(cut)], store, year=2024)
    assert (led.inputs[0].status, led.rows) == ("added", 2)


# ---- 16. special inputs and options ----------------------------------------------------------------

def test_fifo_is_read_as_a_stream(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    w = subprocess.Popen(["sh", "-c", f"cat > '{fifo}'"], stdin=subprocess.PIPE)
    w.stdin.write(lines(0, 3).encode())  # type: ignore[union-attr]
    w.stdin.close()  # type: ignore[union-attr]
    led = honeyscope.ingest([str(fifo)], tmp_path / "s", year=2024)
    w.wait(timeout=30)
    assert (led.inputs[0].status, led.rows) == ("added", 3)


@pytest.mark.parametrize("args, says", [
    (["--workers", "0"], "--workers 0"), (["--year", "0"], "--year 0"),
    (["--year", "-5"], "--year -5"), (["--year", "99999"], "--year 99999"),
    (["--sensor", ""], "--sensor"),
])
def test_bad_options_are_one_line_usage_errors(tmp_path, capsys, args, says):
    f = write(tmp_path / "k.log", lines(0, 1))
    assert cli(["ingest", str(f), "--store", str(tmp_path / "s"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0]
    assert not (tmp_path / "s").exists()


def test_symlink_loop_is_a_clear_error(tmp_path, capsys):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert cli(["ingest", str(loop), "--store", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err.strip() == f"honeyscope: error: {loop}: symbolic link loop"


# ---- 11. nothing outlives a killed ingest -------------------------------------------------------------

def _children(pid: int) -> set[int]:
    out = set()
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.add(int(p.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _alive(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_ingest_leaves_no_worker_running(tmp_path):
    """The blocks of a big input are parsed in parallel by threads of the ingest itself: while it
    stages its blocks it has no child process, so a kill -9 leaves nothing holding memory."""
    big = tmp_path / "big.log"
    with open(big, "w") as f:
        chunk = lines(0, 2000)
        for _ in range(40):  # ~19 MB: several blocks on two workers
            f.write(chunk)
    p = subprocess.Popen([sys.executable, "-m", "honeyscope", "ingest", str(big), "--store",
                          str(tmp_path / "s"), "--workers", "2"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = tmp_path / "s" / "staging"
    seen: set[int] = set()
    staged = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None and not staged:
        seen |= _children(p.pid)
        staged = staging.is_dir() and any(staging.rglob("*.parquet"))
        time.sleep(0.05)
    assert staged, "the ingest staged no block before it ended"
    seen |= _children(p.pid)
    p.kill()
    p.wait()
    assert seen == set()  # no worker process: parsing ran in the ingest's own threads
    assert not [w for w in seen if _alive(w)]


def test_distributed_ingest_identifies_content_too(tmp_path):
    """The Spark path (run here with Python's map) skips a rotated, compressed copy of a committed
    log and adds only the new lines of one that goes further."""
    from honeyscope.ingest import distributed

    def python_map(fn, tasks):
        return list(map(fn, tasks))

    d = tmp_path / "log"
    d.mkdir()
    write(d / "kern.log", lines(0, 10))
    distributed.ingest_distributed([str(d / "kern.log")], tmp_path / "s", python_map, year=2024)
    write(d / "kern.log.2.gz", gzip.compress((d / "kern.log").read_bytes()))
    write(d / "more.log.bz2", bz2.compress(lines(0, 13).encode()))
    led = distributed.ingest_distributed([str(d / "kern.log.2.gz"), str(d / "more.log.bz2")],
                                         tmp_path / "s", python_map, year=2024)
    assert [(i.status, i.rows) for i in led.inputs] == [("skipped: already ingested", 0),
                                                         ("grown", 3)]
    assert len(rows(tmp_path / "s")) == 13


# ---- 12. a block as lines, an input's digests -------------------------------------------------------

@pytest.mark.parametrize("block, expected", [
    (b"ab\ncd\n", ["ab", "cd"]),
    (b"ab\ncd", ["ab", "cd"]),  # an unterminated last line is a line
    (b"\n\nx\n", ["", "", "x"]),  # empty lines kept
    (b"ab\r\ncd\r\n", ["ab", "cd"]),  # CR-LF's CR removed
    ("é€\n".encode(), ["é€"]),  # UTF-8 as it is
    (b"a\xffb\n\xc3\n", ["a\ufffdb", "\ufffd"]),  # invalid UTF-8 replaced
    (b"", []),
])
def test_lines_array_splits_a_block_into_its_lines(block, expected):
    from honeyscope.ingest import sources

    arr = sources.lines_array(block)
    arr.validate(full=True)
    assert arr.to_pylist() == expected
    assert sources.count_lines(block) == len(expected)


@pytest.mark.parametrize("compress", [None, gzip.compress])
def test_an_input_is_recorded_with_the_digests_of_its_bytes_and_text(tmp_path, compress):
    """The manifest's sha256 is the file's bytes' and content_sha256 its text's (both hashlib's
    sha256), whether the scan hashed a plain file once or a compressed one twice."""
    import hashlib

    text = lines(0, 50).encode()
    raw = text if compress is None else compress(text)
    f = write(tmp_path / "k.log", raw)
    honeyscope.ingest([str(f)], tmp_path / "s", year=2024)
    (rec,) = honeyscope.open_store(tmp_path / "s").records
    assert rec.sha256 == hashlib.sha256(raw).hexdigest()
    assert rec.content_sha256 == hashlib.sha256(text).hexdigest()
    assert (rec.end_byte, rec.content_bytes) == (len(raw), len(text))
    led = honeyscope.ingest([str(f)], tmp_path / "s")
    assert led.inputs[0].status == "skipped: already ingested"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 16, 4096])
def test_blocks_are_whole_lines_whatever_the_block_size(tmp_path, size):
    """Blocks end at a line end (but the unterminated last line), CR-LF and a lone CR end a line as
    LF does, also when a block boundary falls between CR and LF, and nothing is lost or repeated."""
    from honeyscope.ingest import sources

    text = b"ab\r\ncd\rlonger line here\n\nx\r\n\r\nlast"
    f = write(tmp_path / "k.log", text)
    r = sources.Reader(sources.Input(str(f), f))
    try:
        blocks = list(r.blocks(size))
    finally:
        r.close()
    assert b"".join(blocks) == b"ab\ncd\nlonger line here\n\nx\n\nlast"
    assert all(b.endswith(b"\n") for b in blocks[:-1]) and blocks[-1].endswith(b"last")


def test_a_new_plain_input_is_read_once_and_still_deduplicated(tmp_path, monkeypatch):
    """A plain file that no committed text can be (or start) is hashed while it is parsed, without a
    pass of its own before; once committed, the same bytes again are found by that pass and skipped,
    and the file grown adds only its new lines."""
    from honeyscope.ingest import sources

    scans = []
    original = sources.scan
    monkeypatch.setattr(sources, "scan", lambda inp, keys: scans.append(inp.name) or original(inp, keys))
    f = write(tmp_path / "k.log", lines(0, 20))
    assert honeyscope.ingest([str(f)], tmp_path / "s", year=2024).rows == 20
    assert scans == []  # a new store: nothing to compare with
    led = honeyscope.ingest([str(f), str(write(tmp_path / "copy.log", lines(0, 20)))], tmp_path / "s")
    assert [i.status for i in led.inputs] == ["skipped: already ingested"] * 2 and len(scans) == 2
    led = honeyscope.ingest([str(write(f, lines(0, 25)))], tmp_path / "s", year=2024)
    assert (led.inputs[0].status, led.rows) == ("grown", 5)
    led = honeyscope.ingest([str(write(tmp_path / "short.log", lines(0, 3)))], tmp_path / "s", year=2024)
    assert (led.inputs[0].status, led.rows, len(scans)) == ("added", 3, 3)  # shorter than any: no scan


def test_overlapping_ingests_give_the_memory_pool_back_once(tmp_path, monkeypatch):
    """Arrow's pool is the C library's while an ingest runs; two ingests overlapping on threads
    leave the pool the process had before (the second one must not restore the first's switch)."""
    import threading

    import pyarrow as pa

    from honeyscope.ingest import run

    before = pa.default_memory_pool().backend_name
    inside: list[str] = []
    first_in, second_done = threading.Event(), threading.Event()
    orig = run._ingest

    def held(*a, **k):  # the first ingest stays inside until the second has finished
        inside.append(pa.default_memory_pool().backend_name)
        if threading.current_thread().name == "first":
            first_in.set()
            second_done.wait(30)
        return orig(*a, **k)

    monkeypatch.setattr(run, "_ingest", held)
    src = tmp_path / "a.log"
    src.write_text("Mar  3 21:53:59 h kernel: IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=40 TTL=1 "
                   "ID=1 PROTO=UDP SPT=1 DPT=2 LEN=20 \n")
    t1 = threading.Thread(target=run.ingest, args=([src], tmp_path / "s1"), name="first")
    t1.start()
    assert first_in.wait(30)
    run.ingest([src], tmp_path / "s2")
    assert pa.default_memory_pool().backend_name == "system"  # the first one still runs
    second_done.set()
    t1.join(30)
    assert inside == ["system", "system"]
    assert pa.default_memory_pool().backend_name == before


@pytest.mark.parametrize("size", [0, (1 << 30) + 1])
def test_a_block_size_out_of_bounds_is_an_error(tmp_path, size):
    from honeyscope.ingest import run

    with pytest.raises(ValueError, match="block_size"):
        run.ingest([tmp_path / "none.log"], tmp_path / "s", block_size=size)
