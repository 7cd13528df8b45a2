"""Ingest: inputs (:mod:`.sources`) → parsed rows (:mod:`.parse`, :mod:`.seed_csv`) → the store
(:mod:`.run`; on a Spark cluster :mod:`.distributed`).

``honeyscope.ingest(inputs, store, ...)`` is also the Python API's ingest function
(:func:`honeyscope.ingest.run.ingest`, which :func:`honeyscope.api.ingest` calls too): this
package is callable, so the pipeline's folder and the API verb share one name without shadowing
each other. It calls down into :mod:`.run`, never up into the API (no cycle).
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any):
        from honeyscope.ingest.run import ingest

        return ingest(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
