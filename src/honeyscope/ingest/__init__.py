"""Ingest: inputs (:mod:`.sources`) → parsed rows (:mod:`.parse`, :mod:`.seed_csv`) → the store
(:mod:`.run`; on a Spark cluster :mod:`.distributed`).

``honeyscope.ingest(inputs, store, ...)`` is also the Python API's ingest function
(:func:`honeyscope.ingest.run.ingest`, which :func:`honeyscope.api.ingest` calls too): this
package is callable, so the pipeline's folder and the API verb share one name without shadowing
each other. It calls down into :mod:`.run`, never up into the API (no cycle).
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

# numpy's OpenBLAS starts a thread per core when numpy is loaded, and each spins for a while waiting
# for work an ingest never gives it (ingest uses no BLAS; the analyses run theirs on one thread, see
# honeyscope.analyse.blas): 4-5% of an ingest's CPU, during the imports that the whole run waits
# for. One thread, unless the user chose, when numpy is not loaded yet.
if "numpy" not in sys.modules and not any(
        k in os.environ for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")):
    os.environ["OPENBLAS_NUM_THREADS"] = "1"


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any):
        from honeyscope.ingest.run import ingest

        return ingest(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
