"""Report sections, one module per theme; each has ``build(ctx) -> list[Section]``.

The report (:mod:`honeyscope.render.report`) calls them in the order of :data:`SECTION_MODULES`;
a module that is missing is skipped, so a new analysis adds its section by adding its module here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis

#: Section modules in report order.
SECTION_MODULES = ["data", "explore", "events", "fleet", "health", "findings"]


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
