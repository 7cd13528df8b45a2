"""Progress shows on stderr and fits the terminal's width: one line, whatever the width."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from honeyscope.cli.ingest import _progress


@pytest.mark.parametrize("width", [40, 60, 80, 100, 120, 200])
def test_ingest_progress_bar_is_one_line_of_the_terminal(width):
    con = Console(file=io.StringIO(), width=width, force_terminal=True)
    p = _progress(10**9, True, console=con)
    update = p.__enter__()
    try:
        update(5 * 10**8, 12_345_678)
        bar = p._bar
        assert bar.console is con  # the console given (stderr by default), never stdout's
        bar.update(bar.tasks[0].id, rate=2_500_000.0)
        shown = Console(width=width, record=True, file=io.StringIO())
        shown.print(bar.make_tasks_table(bar.tasks))
    finally:
        p.__exit__(None, None, None)
    lines = shown.export_text().rstrip("\n").splitlines()
    assert len(lines) == 1 and len(lines[0]) <= width
    assert "12,345,678" in lines[0]


def test_ingest_progress_goes_to_stderr(monkeypatch):
    """Drawn on the terminal's stderr; nothing reaches stdout (results only)."""
    import sys

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out, err = Tty(), Tty()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    p = _progress(10, True)
    update = p.__enter__()
    try:
        update(5, 1234)
        p._bar.refresh()
    finally:
        p.__exit__(None, None, None)
    assert out.getvalue() == "" and "1,234" in err.getvalue()
