"""A real Spark standalone cluster on loopback, for tests and benchmarks (test/ops tooling, not
part of the analyses: the engine adapter is :mod:`honeyscope.analyse.spark`)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from honeyscope.analyse.spark import java_available


def spark_home() -> Path:
    """The Spark distribution inside the pyspark package (has bin/spark-class and jars/)."""
    import pyspark

    return Path(pyspark.__file__).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandaloneCluster:
    """A Spark standalone master and one worker on 127.0.0.1, on free ports.

    >>> with StandaloneCluster() as c:      # doctest: +SKIP
    ...     con = connect(c.url)

    Both run as child processes in their own process group; :meth:`stop` ends them (TERM, then
    KILL after a grace period) and is safe to call twice. Logs are kept in :attr:`logdir`.
    """

    def __init__(self, cores: int = 2, memory: str = "4g", timeout: float = 90.0) -> None:
        self.cores, self.memory, self.timeout = cores, memory, timeout
        self.port, self.ui_port = free_port(), free_port()
        self.worker_port, self.worker_ui = free_port(), free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.logdir = Path(tempfile.mkdtemp(prefix="honeyscope-spark-"))
        self.procs: list[subprocess.Popen] = []

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SPARK_HOME=str(spark_home()),
            SPARK_LOCAL_IP="127.0.0.1",
            SPARK_LOG_DIR=str(self.logdir),
            SPARK_WORKER_DIR=str(self.logdir / "work"),
            PYSPARK_PYTHON=sys.executable,
            SPARK_NO_DAEMONIZE="1",
        )
        return env

    def _spawn(self, name: str, *args: str) -> None:
        cmd = [str(spark_home() / "bin" / "spark-class"), *args]
        log = open(self.logdir / f"{name}.log", "wb")
        p = subprocess.Popen(cmd, env=self._env(), stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        p._honeyscope_log = log  # type: ignore[attr-defined]
        self.procs.append(p)

    def _status(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=2) as r:
                return json.load(r)
        except (OSError, ValueError):
            return None

    def start(self) -> StandaloneCluster:
        if not java_available():
            raise RuntimeError("no Java: the Spark standalone cluster needs java on PATH")
        try:
            self._spawn("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                        "--port", str(self.port), "--webui-port", str(self.ui_port))
            self._spawn("worker", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                        "--port", str(self.worker_port), "--webui-port", str(self.worker_ui),
                        "--cores", str(self.cores), "--memory", self.memory, self.url)
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                for p in self.procs:
                    if p.poll() is not None:
                        raise RuntimeError(f"Spark process exited early ({p.args[1]}); logs in "
                                           f"{self.logdir}")
                st = self._status()
                if st and st.get("aliveworkers", 0) >= 1 and st.get("status") == "ALIVE":
                    return self
                time.sleep(0.5)
            raise TimeoutError(f"Spark cluster not up within {self.timeout} s; logs in "
                               f"{self.logdir}")
        except BaseException:
            self.stop()
            raise

    def stop(self, grace: float = 15.0) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=grace)
            p._honeyscope_log.close()  # type: ignore[attr-defined]
        self.procs.clear()

    def __enter__(self) -> StandaloneCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
