"""honeyscope: the netfilter LOG lines of many internet sensors → one typed table → answers.

The pipeline reads as the package: :mod:`honeyscope.ingest` → :mod:`honeyscope.store` →
:mod:`honeyscope.analyse` → :mod:`honeyscope.render`; :mod:`honeyscope.api` is the Python API and
:mod:`honeyscope.cli` the command line over it.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

#: The Python API, listed by ``dir(honeyscope)`` (tab completion): the pipeline's functions and
#: one function per analysis of :mod:`honeyscope.analyse.registry` (a test keeps them equal).
_API = ("anomalies", "chart", "compare", "count", "daily", "enrich", "events", "export", "gaps", "health",
        "ingest",
        "ip", "open_packets", "open_store", "packets_of", "port_sources", "ports", "resolve_store", "scans",
        "source", "sources", "summary", "survival", "trends", "verify_store")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})


def __getattr__(name: str) -> Any:  # lazy: `import honeyscope` stays cheap
    import importlib
    import importlib.util

    if name.startswith("__"):
        raise AttributeError(name)
    if importlib.util.find_spec(f"honeyscope.{name}") is not None:
        # a submodule (no api import: no cycle); honeyscope.ingest is callable: the API's ingest
        return importlib.import_module(f"honeyscope.{name}")
    if name in _API:
        return getattr(importlib.import_module("honeyscope.api"), name)
    raise AttributeError(f"module 'honeyscope' has no attribute {name!r}")
