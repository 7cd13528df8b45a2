"""Text from a log line made inert for a terminal, at the bottom of the layers: the store's own
warnings print paths with it, and :mod:`honeyscope.render.escape` builds every other place's rule
(HTML, spreadsheet cells, rich markup) on it."""

from __future__ import annotations

import re

#: control, line/paragraph separator and bidi-override characters
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def visible(m: re.Match[str]) -> str:
    """A matched control character as its visible ``\\xNN`` / ``\\uNNNN`` form."""
    c = ord(m.group(0))
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def plain_terminal(value: object) -> str:
    """Text safe for a plain ``print`` on a terminal: control and bidi-override characters made
    visible (newlines and tabs kept); no rich markup escaping."""
    return CONTROL.sub(visible, "" if value is None else str(value))
