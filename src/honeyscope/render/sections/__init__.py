"""Report sections, one module per theme; each has ``build(ctx) -> list[Section]``.

The report (:mod:`honeyscope.render.report`) calls them in the order of
:data:`honeyscope.analyse.registry.SECTIONS`; a module that is missing is an error, so a new
analysis adds its section by adding its module here and naming it there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis

from honeyscope.analyse.registry import SECTIONS

#: Section modules in report order (the registry's list).
SECTION_MODULES = list(SECTIONS)


@dataclass
class ReportContext:
    """What every section builder gets."""

    packets: ibis.Table  # canonical packet table, already restricted to --from/--to/--sensors
    con: ibis.BaseBackend  # the engine the packets live on
    ledger: dict[str, Any] | None = None  # ingest ledger of the store (lines, rows, rejects by reason...)
    meta: dict[str, Any] = field(default_factory=dict)  # store metadata (enrichment db name/date, ...)
    options: dict[str, Any] = field(default_factory=dict)  # report options (from, to, sensors, ...)
    findings: list[str] = field(default_factory=list)  # key findings gathered from the sections
    progress: Any = None  # callable(str) to report a step, or None

    def step(self, what: str) -> None:
        """Name the step now running (shown on a terminal by the report command)."""
        if self.progress:
            self.progress(what)
