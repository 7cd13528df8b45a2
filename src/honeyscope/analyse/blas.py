"""One BLAS thread for the small fits of the analyses (the rise test's GLM, its rank checks).

numpy's and scipy's wheels each bundle an OpenBLAS that starts one thread per core. On matrices of
a few thousand rows and a few dozen columns those threads cost far more than they give: on a
2-core machine with other work running, ten least-squares solves and SVDs of 1,600 x 16 took
1.25 s with two threads and 0.03 s with one (the threads wait for each other). One thread gives
the same numbers here (the GLM's rate ratio, interval and p-value to the last bit). The limit is
set with threadpoolctl on the BLAS libraries loaded and restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_info, threadpool_limits


@contextmanager
def one_thread() -> Iterator[None]:
    """Within the block, every loaded BLAS runs on one thread; restored on the way out."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def threads() -> list[int]:
    """The threads of each loaded BLAS (for tests and diagnostics)."""
    return [int(i["num_threads"]) for i in threadpool_info() if i.get("user_api") == "blas"]
