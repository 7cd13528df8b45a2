"""Key findings: one sentence from each section, computed from the data (placed first by the report)."""

from __future__ import annotations

from honeyscope.render.html import Section, bullets, para
from honeyscope.render.sections import ReportContext


def build(ctx: ReportContext) -> list[Section]:
    if not ctx.findings:
        return [Section("findings", "Key findings", para("No findings: the selection holds no packets."))]
    return [Section("findings", "Key findings", '<div class="findings">' + bullets(ctx.findings) + "</div>")]
