"""One BLAS thread for the small fits of the analyses (the rise test's GLM, its rank checks).

numpy's and scipy's wheels each bundle an OpenBLAS that starts one thread per core. On matrices of
a few thousand rows and a few dozen columns those threads cost far more than they give: on a
2-core machine with other work running, ten least-squares solves and SVDs of 1,600 x 16 took
1.25 s with two threads and 0.03 s with one (the threads wait for each other). One thread gives
the same numbers here (the GLM's rate ratio, interval and p-value to the last bit). The limit is
set through OpenBLAS' own ``*_set_num_threads`` on the libraries already loaded (found in
``/proc/self/maps``) and restored afterwards; where that is not possible (another OS, another
BLAS) nothing changes.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager

#: (setter, getter) names OpenBLAS builds export: numpy's 64-bit-integer build, scipy's, a plain one
_NAMES = (
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
)

_found: dict[str, tuple | None] = {}


def _openblas() -> list[tuple]:
    """(set, get) of every OpenBLAS loaded in this process."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f
                            if "openblas" in line.rsplit("/", 1)[-1].lower() and "/" in line})
    except OSError:  # not Linux
        return []
    out = []
    for path in paths:
        if path not in _found:
            _found[path] = None
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for set_name, get_name in _NAMES:
                setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
                if setter is not None and getter is not None:
                    setter.argtypes, getter.restype = [ctypes.c_int], ctypes.c_int
                    _found[path] = (setter, getter)
                    break
        if _found[path] is not None:
            out.append(_found[path])
    return out


@contextmanager
def one_thread() -> Iterator[None]:
    """Within the block, every loaded OpenBLAS runs on one thread; restored on the way out."""
    libs = _openblas()
    before = [get() for _, get in libs]
    for setter, _ in libs:
        setter(1)
    try:
        yield
    finally:
        for (setter, _), n in zip(libs, before, strict=True):
            setter(n)


def threads() -> list[int]:
    """The threads of each loaded OpenBLAS (for tests and diagnostics)."""
    return [get() for _, get in _openblas()]
