"""Worker processes for the CPU-bound steps (parsing blocks, generating a fleet).

Always *spawned*, never forked: polars, pyarrow and numba run thread pools, and a process forked
while one of their threads holds a lock inherits the lock held, forever (seen here: an ingest that
hung in its first block). A spawned worker would normally re-run the caller's main script first
(multiprocessing's "safe importing of main module" rule), which breaks any script that calls
``honeyscope.ingest`` at top level; our workers only run functions of this package, so the pool
starts its workers with the main module hidden from them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor


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
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    with _main_hidden():
        started = [pool.submit(_ready) for _ in range(workers)]  # one process per submit
    for f in started:
        f.result()
    return pool
