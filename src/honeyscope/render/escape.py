"""Everything that came from a log line is hostile: these make it inert for each place it reaches.

* HTML: ``html()`` escapes ``& < > " '``, so ``<script>`` shows as text, and control characters.
* Terminal: ``terminal()`` replaces control characters (ANSI escapes, CR, BEL, ...) by visible
  ``\\xNN`` forms, so a log line cannot move the cursor, recolour or retitle the terminal.
* Spreadsheet: ``cell()`` prefixes a value that a spreadsheet would read as a formula
  (``= + - @``, tab, CR) with ``'`` (OWASP's CSV-injection rule), keeping negative numbers as numbers.
"""

from __future__ import annotations

import html as _html
import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A number a spreadsheet reads as such (kept as is); the same patterns defuse exports in SQL.
NUMBER_PATTERN = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
FORMULA_START_PATTERN = r"^[=+\-@\t\r]"
_NUMBER = re.compile(NUMBER_PATTERN)


def html(value: object) -> str:
    """Text safe inside HTML element content and quoted attribute values; control characters
    (ANSI escapes, ...) are shown as ``\\xNN`` rather than passed on."""
    return _html.escape(_CONTROL.sub(_visible, "" if value is None else str(value)), quote=True)


def _visible(m: re.Match[str]) -> str:
    c = ord(m.group(0))
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def terminal(value: object) -> str:
    """Text safe to print on a terminal: control and bidi-override characters made visible.

    Also escapes rich's markup brackets, so the text is safe in rich tables and prints.
    """
    from rich.markup import escape as rich_escape  # escapes backslashes before brackets too

    return rich_escape(_CONTROL.sub(_visible, "" if value is None else str(value)))


def plain_terminal(value: object) -> str:
    """Like :func:`terminal` for plain ``print`` (no rich markup escaping)."""
    return _CONTROL.sub(_visible, "" if value is None else str(value))


def cell(value: object) -> object:
    """A CSV/spreadsheet cell value that cannot be read as a formula."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(_FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def chart_label(value: object) -> str:
    """Text safe as a matplotlib/plotnine label: control characters visible, ``$`` (mathtext) literal."""
    return plain_terminal(value).replace("$", r"\$")
