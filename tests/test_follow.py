"""``honeyscope ingest --follow``: tailing files into the store across logrotate's modes."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import wait_until
from honeyscope.ingest.follow import Follower
from honeyscope.store.store import Store

ROOT = Path(__file__).resolve().parents[1]


def line(i: int, host: str | None = "fw1") -> bytes:
    h = f"{host} " if host else ""
    return (f"Jun  1 12:00:00 {h}kernel: DROP IN=eth0 OUT= SRC=198.51.100.{i % 250} DST=203.0.113.1 LEN=40 "
            f"TOS=0x00 PREC=0x00 TTL=50 ID={i % 65536} PROTO=TCP SPT={i // 65536 + 1} DPT=23 WINDOW=1 "
            "RES=0x00 SYN URGP=0\n").encode()


class Following:
    def __init__(self, store: Path, files: list[Path], **kw) -> None:
        kw.setdefault("commit_every", 0.2)
        kw.setdefault("interval", 0.02)
        kw.setdefault("grace", 0.2)
        self.ready = threading.Event()  # the files are open (the first poll's status): writers may start
        self.f = Follower(store, [str(p) for p in files], status=lambda _: self.ready.set(), **kw)
        self.stats = None
        self.t = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.stats = self.f.run()
        except BaseException as e:
            self.error = e
        finally:
            self.ready.set()

    def __enter__(self) -> Following:
        self.t.start()
        self.ready.wait(60)  # a rotation before the follower opened the file is not followed (tail -F)
        return self

    def __exit__(self, *exc) -> None:
        self.f.stop()
        self.t.join(60)
        if self.error and not exc[0]:
            raise self.error


def _ids(store: Path) -> list[int]:
    t = Store(store).table(["ip_id", "spt"])
    return [a + 65536 * (b - 1) for a, b in zip(t.column("ip_id").to_pylist(), t.column("spt").to_pylist(),
                                                strict=True)]


def test_follow_appends_waits_for_half_lines_and_resumes(tmp_path):
    log, store = tmp_path / "kern.log", tmp_path / "st"
    log.write_bytes(line(0) + line(1, host=None))
    with Following(store, [log]) as fo:
        wait_until(lambda: fo.f.stats.rows == 2)
        with open(log, "ab") as f:
            f.write(line(2) + line(3)[:30])  # a line being written
        wait_until(lambda: fo.f.stats.rows == 3)
        time.sleep(0.3)
        assert fo.f.stats.rows == 3
    assert Store(store).ledger()["hosts"] == {"fw1": 2, "kern.log": 1}  # host-less: the file's name
    with open(log, "ab") as f:
        f.write(line(3)[30:] + line(4))
    with Following(store, [log]) as fo:  # a restart goes on from the last commit
        wait_until(lambda: fo.f.stats.rows == 2)
    assert sorted(_ids(store)) == [0, 1, 2, 3, 4]
    lines = Store(store).table(["line"]).column("line").to_pylist()
    assert sorted(lines) == [1, 2, 3, 4, 5]


def _rotate(log: Path, mode: str, writer_lock: threading.Lock, reopen: list[bool]) -> None:
    """What logrotate does (with rotate N: shift the older copies first)."""
    for k in range(20, 0, -1):
        for ext in ("", ".gz"):
            old = log.with_name(f"{log.name}.{k}{ext}")
            if old.exists():
                old.rename(log.with_name(f"{log.name}.{k + 1}{ext}"))
    first = log.with_name(log.name + ".1")
    with writer_lock:  # copytruncate loses lines written between copy and truncate: the writer waits
        if mode.startswith("copytruncate"):
            shutil.copyfile(log, first)
            os.truncate(log, 0)
        else:
            log.rename(first)
            log.touch()
            reopen[0] = True  # postrotate: the daemon reopens its log
    if mode.endswith("compress"):
        with open(first, "rb") as src, gzip.open(str(first) + ".gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        first.unlink()


def _run_rotations(tmp_path: Path, mode: str, rotations: int, lines_between: int, pause: float) -> None:
    log, store = tmp_path / "fw.log", tmp_path / "st"
    log.touch()
    lock = threading.Lock()
    reopen = [False]
    written = 0
    stop = threading.Event()

    def writer() -> None:
        nonlocal written
        f = open(log, "ab", buffering=0)
        while not stop.is_set():
            with lock:
                if reopen[0]:
                    f.close()
                    f = open(log, "ab", buffering=0)
                    reopen[0] = False
                f.write(b"".join(line(written + k) for k in range(5)))
                written += 5
            time.sleep(0.002)
        f.close()

    with Following(store, [log]) as fo:
        w = threading.Thread(target=writer)
        w.start()
        for _ in range(rotations):
            time.sleep(pause)
            _rotate(log, mode, lock, reopen)
        time.sleep(pause)
        stop.set()
        w.join()
        wait_until(lambda: fo.f.stats.lines >= written, timeout=20)
    ids = _ids(store)
    assert len(ids) == written, (mode, len(ids), written)
    assert sorted(ids) == list(range(written))
    assert fo.stats.rotations + fo.stats.truncations == rotations
    assert fo.stats.lost == 0


@pytest.mark.slow  # more than 3 s on 2 cores (CI runs it)
@pytest.mark.parametrize("mode", ["create", "create+compress", "copytruncate", "copytruncate+compress"])
def test_one_rotation(tmp_path, mode):
    _run_rotations(tmp_path, mode, rotations=1, lines_between=0, pause=0.3)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["create", "create+compress", "copytruncate", "copytruncate+compress"])
def test_rotated_five_times_while_written(tmp_path, mode):
    _run_rotations(tmp_path, mode, rotations=5, lines_between=0, pause=0.4)


@pytest.mark.slow
def test_cli_follow_until_sigterm(tmp_path):
    log, store = tmp_path / "k.log", tmp_path / "st"
    log.write_bytes(b"".join(line(i) for i in range(10)) + b"garbage\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    p = subprocess.Popen([sys.executable, "-m", "honeyscope", "ingest", "--follow", str(log), "--store",
                          str(store), "--commit-every", "0.2"], env=env, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: (store / "manifest.json").exists() and Store(store).ledger()["rows"] == 10, timeout=30)
    p.send_signal(signal.SIGTERM)
    assert p.wait(30) == 0
    err = p.stderr.read()
    assert "10 rows, 1 rejected" in err, err


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_cli_follow_refuses_stdin(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    p = subprocess.run([sys.executable, "-m", "honeyscope", "ingest", "--follow", "-", "--store",
                        str(tmp_path / "s")], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "standard input" in p.stderr and p.stderr.count("\n") == 1


@pytest.mark.parametrize("compress", [False, True])
def test_rotated_while_not_followed(tmp_path, compress):
    """Lines appended after the last commit, then rotated away while no follow ran: the next follow
    reads them from the rotated copy, then the new file; every line once."""
    log, store = tmp_path / "fw.log", tmp_path / "st"
    log.write_bytes(b"".join(line(i) for i in range(5)))
    with Following(store, [log]) as fo:
        wait_until(lambda: fo.f.stats.rows == 5)
    with open(log, "ab") as f:
        f.write(b"".join(line(i) for i in range(5, 9)))
    rotated = log.with_name("fw.log.1")
    log.rename(rotated)
    if compress:
        with open(rotated, "rb") as src, gzip.open(str(rotated) + ".gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        rotated.unlink()
    log.write_bytes(b"".join(line(i) for i in range(9, 12)))
    with Following(store, [log]) as fo:
        wait_until(lambda: fo.f.stats.rows == 7)
    assert sorted(_ids(store)) == list(range(12))
    with Following(store, [log]) as fo:  # and a third run adds nothing
        time.sleep(0.5)
    assert fo.stats.rows == 0
