"""Everything that came from a log line is hostile: these make it inert for each place it reaches.

* HTML: ``html()`` escapes ``& < > " '``, so ``<script>`` shows as text, and control characters.
* Terminal: ``terminal()`` replaces control characters (ANSI escapes, CR, BEL, ...) by visible
  ``\\xNN`` forms, so a log line cannot move the cursor, recolour or retitle the terminal.
* Spreadsheet: ``cell()`` prefixes a value that a spreadsheet would read as a formula
  (``= + - @``, tab, CR) with ``'`` (OWASP's CSV-injection rule), keeping negative numbers as numbers,
  and does the same after every line break inside the value (``X\\r=cmd`` cannot start a record).
* One value in text, a table cell or a chart label: ``value_text()`` also shows newlines and tabs as
  ``\\n`` and ``\\t`` (a value cannot add a line or a column) and cuts every name (run of
  non-blank characters) longer than :data:`MAX_NAME` characters with an ellipsis, so a
  15,000-character host cannot blow up a table or a chart (labels are cut as a whole).
  ``terminal()``/``plain_terminal()`` keep newlines and tabs: they are for laid-out text as a whole.
"""

from __future__ import annotations

import html as _html
import re

from honeyscope.text import CONTROL as _CONTROL
from honeyscope.text import plain_terminal  # noqa: F401  (re-exported)
from honeyscope.text import visible as _visible

_VALUE_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Longest value shown whole in text, tables and charts (longer ones end in an ellipsis).
MAX_NAME = 200
#: Longest value of any kind shown whole (a sentence of an analysis, say).
MAX_TEXT = 1000
ELLIPSIS = "\u2026"
_AFTER_BREAK = re.compile(r"([\r\n])(?=[=+\-@\t\r])")
#: A number a spreadsheet reads as such (kept as is); the same patterns defuse exports in SQL.
NUMBER_PATTERN = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
FORMULA_START_PATTERN = r"^[=+\-@\t\r]"
_NUMBER = re.compile(NUMBER_PATTERN)


def html(value: object) -> str:
    """Text safe inside HTML element content and quoted attribute values; control characters
    (ANSI escapes, ...) are shown as ``\\xNN`` rather than passed on."""
    return _html.escape(_CONTROL.sub(_visible, "" if value is None else str(value)), quote=True)


def html_value(v: object) -> str:
    """One value (a table cell) for HTML: :func:`value_text`'s rule (newlines, tabs shown, names
    cut at :data:`MAX_NAME`), then :func:`html`."""
    return html(value_text(v))


def _visible_value(m: re.Match[str]) -> str:
    return _NAMED.get(m.group(0)) or _visible(m)


def shorten(text: str, limit: int = MAX_NAME) -> str:
    """``text`` cut to ``limit`` characters, the last one an ellipsis, when it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def value_text(v: object, limit: int = MAX_NAME) -> str:
    """One value for text, a table cell or HTML: every run of more than ``limit`` non-blank
    characters (a name) cut to ``limit`` with an ellipsis, every control character visible
    (newline and tab as ``\\n``, ``\\t``), and the whole value cut to ``MAX_TEXT`` (a sentence
    naming a host stays whole; the host in it is cut)."""
    s = "" if v is None else str(v)
    if len(s) > limit:
        s = re.sub(rf"\S{{{limit + 1},}}", lambda m: shorten(m.group(0), limit), s)
    return shorten(_VALUE_CONTROL.sub(_visible_value, s[: MAX_TEXT * 2]), MAX_TEXT)


def terminal(value: object) -> str:
    """Text safe to print on a terminal: control and bidi-override characters made visible.

    Also escapes rich's markup brackets, so the text is safe in rich tables and prints.
    """
    from rich.markup import escape as rich_escape  # escapes backslashes before brackets too

    return rich_escape(_CONTROL.sub(_visible, "" if value is None else str(value)))


def cell(value: object) -> object:
    """A CSV/spreadsheet cell value that cannot be read as a formula, at its start or after a line
    break inside it (a reader splitting records at a bare CR would otherwise see ``=cmd``)."""
    if not isinstance(value, str) or not value:
        return value
    if "\r" in value or "\n" in value:
        value = _AFTER_BREAK.sub(r"\1'", value)
    if value.startswith(_FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def needs_crlf(values: object) -> bool:
    """Whether CSV holding these cells must end records with CRLF: Python's CSV writer quotes a
    field only for the characters of its line terminator, so a bare CR in a value is quoted only
    when CR is part of it (RFC 4180's CRLF)."""
    return any(isinstance(v, str) and "\r" in v for v in values)  # type: ignore[union-attr]


def chart_label(v: object) -> str:
    """Text safe as a matplotlib/plotnine label: :func:`value_text` cut to :data:`MAX_NAME` as a
    whole (a label is a name), ``$`` (mathtext) literal."""
    return shorten(value_text(v), MAX_NAME).replace("$", r"\$")
