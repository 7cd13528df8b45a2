"""docs/collect.md's snippets, run: rsyslog's forwarding action into a real collect, the framing
syslog-ng's syslog() destination sends (made by util-linux logger), the systemd unit."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import wait_until
from honeyscope.store.store import Store
from test_collect import Running

DOC = Path(__file__).resolve().parents[1] / "docs" / "collect.md"
MSG = ("DROP IN=eth0 OUT= SRC=198.51.100.{i} DST=203.0.113.9 LEN=40 TOS=0x00 PREC=0x00 TTL=50 ID={i} "
       "PROTO=TCP SPT=4{i} DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0")


def _block(marker: str) -> str:
    text = DOC.read_text()
    at = text.index(marker)
    m = re.search(r"```\n(.*?)```", text[at:], re.S)
    assert m, marker
    return m.group(1)


@pytest.mark.slow
def test_rsyslog_snippet_forwards_into_collect(tmp_path):
    if not shutil.which("rsyslogd"):
        pytest.skip("rsyslogd is not installed")
    action = _block("<!-- tested: rsyslog")
    store = tmp_path / "st"
    with Running(store, ["tcp://127.0.0.1:0"]) as r:
        conf = tmp_path / "rsyslog.conf"
        sock = tmp_path / "log"
        conf.write_text(
            f'global(workDirectory="{tmp_path}")\n'
            'module(load="imuxsock" SysSock.Use="off")\n'
            f'input(type="imuxsock" Socket="{sock}" CreatePath="on")\n'
            + action.replace('"collector.example"', '"127.0.0.1"').replace('"6514"', f'"{r.port("tcp")}"'))
        rs = subprocess.Popen(["rsyslogd", "-n", "-f", str(conf), "-i", str(tmp_path / "pid")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until(sock.exists, 10)
            if not sock.exists():
                pytest.skip("rsyslogd did not start here: " + rs.stderr.read1(2000).decode(errors="replace"))
            # what the kernel's log reaches rsyslog as (logger cannot send the kern facility)
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as u:
                for i in range(3):
                    u.sendto(f"<4>Jun  1 12:00:0{i} kernel: {MSG.format(i=i)}".encode(), str(sock))
                u.sendto(b"<14>Jun  1 12:00:00 app: not forwarded", str(sock))
            wait_until(lambda: r.col.stats.received >= 3, 20)
            time.sleep(0.3)
        finally:
            rs.send_signal(signal.SIGTERM)
            rs.wait(20)
    assert r.stats.received == 3  # the kern.* selector: user.info stays on the sensor
    led = Store(store).ledger()
    assert led["rows"] == 3 and led["rejected_total"] == 0
    assert "127.0.0.1" not in led["hosts"]  # RFC 5424 carried the sensor's own host name


@pytest.mark.parametrize("flags", [
    ["--tcp", "--octet-count", "--rfc5424"],  # syslog-ng's syslog() destination
    ["--tcp", "--rfc3164"],  # newline framing
    ["--udp", "--rfc5424"],
])
def test_logger_framings_into_collect(tmp_path, flags):
    if not shutil.which("logger"):
        pytest.skip("util-linux logger is not installed")
    proto = "udp" if "--udp" in flags else "tcp"
    with Running(tmp_path / "st", [f"{proto}://127.0.0.1:0"]) as r:
        for i in range(3):
            subprocess.run(["logger", *flags, "--server", "127.0.0.1", "--port", str(r.port(proto)),
                            "-p", "kern.warning", "-t", "kernel", MSG.format(i=i)], check=True)
        wait_until(lambda: r.col.stats.received >= 3, 20)
    led = Store(tmp_path / "st").ledger()
    assert led["rows"] == 3 and led["rejected_total"] == 0


def test_systemd_unit_verifies(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    unit = _block("<!-- tested: tests/test_collect_docs.py checks it with systemd-analyze")
    assert "KillSignal=SIGTERM" in unit and "--store" in unit
    path = tmp_path / "honeyscope-collect.service"
    path.write_text(unit.replace("/usr/local/bin/honeyscope", shutil.which("true") or "/bin/true"))
    p = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    problems = [x for x in p.stderr.splitlines() if str(path) in x]
    assert not problems, problems
