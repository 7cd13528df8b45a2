"""honeyscope: the netfilter LOG lines of many internet sensors → one typed table → answers.

The pipeline reads as the package: :mod:`honeyscope.ingest` → :mod:`honeyscope.store` →
:mod:`honeyscope.analyse` → :mod:`honeyscope.render`; :mod:`honeyscope.api` is the Python API and
:mod:`honeyscope.cli` the command line over it.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = {"ingest", "open_store", "open_packets", "resolve_store", "verify_store"}


def __getattr__(name: str) -> Any:  # lazy: `import honeyscope` stays cheap
    import importlib
    import importlib.util

    if name.startswith("__"):
        raise AttributeError(name)
    if importlib.util.find_spec(f"honeyscope.{name}") is not None:
        return importlib.import_module(f"honeyscope.{name}")  # a submodule (no api import: no cycle)
    api = importlib.import_module("honeyscope.api")
    if name in _API or name in api.ANALYSES:
        return getattr(api, name)
    raise AttributeError(f"module 'honeyscope' has no attribute {name!r}")
