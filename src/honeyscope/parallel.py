"""Worker processes for the CPU-bound steps (parsing blocks, generating a fleet).

Always *spawned*, never forked: polars, pyarrow and numba run thread pools, and a process forked
while one of their threads holds a lock inherits the lock held, forever (seen here: an ingest that
hung in its first block). A spawned worker would normally re-run the caller's main script first
(multiprocessing's "safe importing of main module" rule), which breaks any script that calls
``honeyscope.ingest`` at top level; our workers only run functions of this package, so the pool
starts its workers with the main module hidden from them.

Workers die with their parent: a killed (``kill -9``, OOM-killed) ingest leaves no worker holding
memory. On Linux the kernel sends them SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``);
everywhere a thread in each worker also watches the parent's pid and exits when it changes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """Worker initializer: exit when process ``parent`` dies."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl: the watcher below
            pass
    if os.getppid() != parent:  # died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="honeyscope-parent-watch", daemon=True).start()


def _ready() -> None:
    """A no-op task: makes the pool start a worker now."""


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes, all started before it is returned."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_die_with, initargs=(os.getpid(),))
    with _main_hidden():
        started = [pool.submit(_ready) for _ in range(workers)]  # one process per submit
    for f in started:
        f.result()
    return pool
