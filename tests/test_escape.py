from hypothesis import given, settings
from hypothesis import strategies as st

from honeyscope.render.escape import cell, html, plain_terminal, terminal


def test_html_escapes_markup_quotes_and_controls():
    assert html('<script>"x"\'</script>') == "&lt;script&gt;&quot;x&quot;&#x27;&lt;/script&gt;"
    assert html("\x1b[31mred") == "\\x1b[31mred"
    assert html(None) == ""


@settings(deadline=None)  # a shared machine's pauses are not the escaper's time
@given(st.text())
def test_no_control_character_survives(s):
    for out in (terminal(s), plain_terminal(s), html(s)):
        assert not any(ord(c) < 32 and c not in "\t\n" for c in out)
        assert "\x1b" not in out and "\x7f" not in out and "\u202e" not in out
    assert "<" not in html(s) and '"' not in html(s)


def test_terminal_escapes_rich_markup():
    assert terminal("[bold]x") == "\\[bold]x"


def test_spreadsheet_formulas_defused_numbers_kept():
    assert cell("=1+2") == "'=1+2"
    assert cell("@SUM(A1)") == "'@SUM(A1)"
    assert cell("+cmd|' /C calc'!A0") == "'+cmd|' /C calc'!A0"
    assert cell("-12.5") == "-12.5"
    assert cell("host") == "host"
    assert cell(42) == 42


def test_rich_shows_hostile_text_literally():
    from rich.console import Console

    for v in ["evil\\[bold red]X[/]", "[link=http://x]click[/link]", "[/]", "$x [b]"]:
        c = Console(record=True, width=200, color_system=None)
        c.print(terminal(v), end="")
        assert c.export_text() == v, v


def test_export_sql_defuses_like_cell():
    import duckdb

    from honeyscope.render.export import _SAFE

    con = duckdb.connect()
    for v in ["=1+2", "@SUM(A1)", "-12.5", "+1e5", "-cmd", "host", "\tx"]:
        got = con.execute(f"SELECT {_SAFE.format(c='?')}", [v, v, v, v]).fetchone()[0]
        assert got == cell(v), v


# --- issue 9, item 17: newlines, tabs, CR in CSV, long names -----------------------------------

import io  # noqa: E402

import pandas as pd  # noqa: E402

from honeyscope.render.escape import MAX_NAME, chart_label, html_value, value_text  # noqa: E402

LONG = "h" * 15_000


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _emit(df: pd.DataFrame, fmt: str, out=None) -> str:
    from honeyscope.cli.common import emit

    out = out if out is not None else io.StringIO()
    emit(df, fmt, out=out)
    return out.getvalue()


def test_value_text_shows_newlines_tabs_and_cuts_long_names():
    assert value_text("a\nb\tc\rd\x1b") == "a\\nb\\tc\\rd\\x1b"
    cut = value_text(LONG)
    assert len(cut) == MAX_NAME == 200 and cut == "h" * 199 + "\u2026"
    # a sentence naming a long host keeps its words; only the name is cut
    s = value_text(f"sensor {LONG} went quiet")
    assert s == "sensor " + "h" * 199 + "\u2026" + " went quiet"
    assert len(chart_label("word " * 100)) == 200  # a label is cut as a whole
    assert html_value("<b>\n" + LONG) == "&lt;b&gt;\\n" + "h" * 199 + "\u2026"


def test_text_output_escapes_newlines_and_tabs_in_values():
    df = pd.DataFrame({"host": ["evil\nFAKE ROW\t9999", "ok"], "packets": [1, 2]})
    out = _emit(df, "text")
    lines = out.rstrip("\n").split("\n")
    assert len(lines) == 3, out  # header + two rows: a value cannot add a line
    assert "evil\\nFAKE ROW\\t9999" in lines[1] and "\t" not in out


def test_text_output_cuts_a_15000_character_host():
    df = pd.DataFrame({"host": [LONG], "packets": [1]})
    out = _emit(df, "text")
    assert max(len(line) for line in out.splitlines()) < 220
    assert "h" * 199 + "\u2026" in out


def test_csv_quotes_cr_and_defuses_formula_after_it():
    df = pd.DataFrame({"v": ["X\r=cmd|' /C calc'!A0", "a\nb", "=1+2"]})
    out = _emit(df, "csv")
    # RFC 4180 records (CRLF) so the bare CR is inside quotes, and the formula after it defused
    assert out == "v\r\n\"X\r'=cmd|' /C calc'!A0\"\r\n\"a\nb\"\r\n'=1+2\r\n"
    # no reader that splits at any line break sees a record starting with a formula character
    import re

    assert not any(part[:1] in "=+-@" and part for part in re.split(r"[\r\n]+", out))
    import csv

    assert list(csv.reader(io.StringIO(out, newline="")))[1] == ["X\r'=cmd|' /C calc'!A0"]


def test_csv_without_cr_keeps_plain_line_ends():
    assert _emit(pd.DataFrame({"v": ["a", "b\nc"]}), "csv") == 'v\na\n"b\nc"\n'


def test_csv_on_a_terminal_has_no_control_characters():
    df = pd.DataFrame({"v": ["\x1b[2J\x1b]0;pwned\x07", "X\r=cmd", "t\tab"]})
    out = _emit(df, "csv", out=_Tty())
    assert out == "v\n\\x1b[2J\\x1b]0;pwned\\x07\nX\\r=cmd\nt\\tab\n"


def test_export_csv_quotes_and_defuses_cr(tmp_path):
    import pyarrow as pa

    from honeyscope import schema
    from honeyscope.render.export import export
    from honeyscope.store.store import Store

    st = Store(tmp_path / "s", create=True)
    rows = pa.table({"host": ["X\r=cmd|x"], "src": ["1.2.3.4"], "proto": ["TCP"], "line": [1],
                     "source": ["t"], "time": pa.array([0], pa.timestamp("us", tz="UTC"))})
    with st.lock():
        tx = st.begin()
        tx.add(schema.conform(rows), schema.REJECT_SCHEMA.empty_table())
        tx.commit({"source": "t"})
    out = tmp_path / "x.csv"
    assert export(st, "marx", str(out)) == 1
    raw = out.read_bytes()
    assert b"\"X\r'=cmd|x\"" in raw and b"\r=cmd" not in raw


def test_chart_label_of_a_15000_character_host_is_cut():
    from honeyscope.render import charts

    df = pd.DataFrame({"day": pd.to_datetime(["2024-03-03", "2024-03-04"] * 2),
                       "host": [LONG, LONG, "b", "b"], "value": [1, 2, 3, 4]})
    labels = charts._facet_labels(df, "host")["host"]
    assert labels.str.len().max() == 200 and labels.iloc[0] == "h" * 199 + "\u2026"
