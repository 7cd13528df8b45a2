"""The fleet report sections on the bundled data."""

from __future__ import annotations

import time

import pytest

from honeyscope.render.sections import ReportContext
from honeyscope.render.sections.fleet import build


@pytest.mark.slow  # ~8-11 s on the shared 2-core machine
def test_sections_on_marx(marx):
    ctx = ReportContext(packets=marx, con=marx._find_backend())
    t0 = time.perf_counter()
    secs = build(ctx)
    elapsed = time.perf_counter() - t0
    assert [s.id for s in secs] == ["origin", "compare", "sources", "scans"]
    html = "".join(s.body for s in secs)
    assert "IPFire" in html and "2022-10-29" in html
    assert "Chinanet Backbone" in html
    assert "1,350" in html  # sources that reached all 9 sensors
    assert "20,666" in html  # one packet, one sensor
    assert "183.91.14.60" in html  # largest scan
    assert "<script" not in html
    assert ctx.meta["enrichment"]["license"] == "CC BY-SA 4.0"
    f = " ".join(ctx.findings)
    assert "China" in f and "backscatter" in f
    assert elapsed < 30
