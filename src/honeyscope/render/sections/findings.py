"""Key findings: one sentence from each section, computed from the data (placed first by the report).

Each finding carries a footnote-style pointer to the table (or section) its figures come from
(``ctx.meta["finding_refs"]``, filled by :func:`honeyscope.render.report.build_sections`)."""

from __future__ import annotations

from honeyscope.render.escape import html as esc
from honeyscope.render.html import Section, para
from honeyscope.render.sections import ReportContext


def build(ctx: ReportContext) -> list[Section]:
    if not ctx.findings:
        return [Section("findings", "Key findings", para("No findings: the selection holds no packets."))]
    refs: dict = ctx.meta.get("finding_refs", {})
    targets: list[tuple[str, str]] = []  # numbered once each, in order of first use
    items = []
    for f in ctx.findings:
        ref = refs.get(f)
        mark = ""
        if ref is not None:
            if tuple(ref) not in targets:
                targets.append(tuple(ref))
            n = targets.index(tuple(ref)) + 1
            mark = f'<sup class="ref"><a href="#{esc(ref[0])}" title="{esc(ref[1])}">[{n}]</a></sup>'
        items.append(f"<li>{esc(f)}{mark}</li>")
    notes = "".join(f'<li><a href="#{esc(a)}">{esc(label)}</a></li>' for a, label in targets)
    body = ('<div class="findings"><ul>' + "".join(items) + "</ul></div>"
            + (f'<p class="note">Where each figure comes from:</p><ol class="refs">{notes}</ol>'
               if notes else ""))
    return [Section("findings", "Key findings", body)]
