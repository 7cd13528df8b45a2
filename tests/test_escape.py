from hypothesis import given
from hypothesis import strategies as st

from honeyscope.render.escape import cell, html, plain_terminal, terminal


def test_html_escapes_markup_quotes_and_controls():
    assert html('<script>"x"\'</script>') == "&lt;script&gt;&quot;x&quot;&#x27;&lt;/script&gt;"
    assert html("\x1b[31mred") == "\\x1b[31mred"
    assert html(None) == ""


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

    from honeyscope.store.export import _SAFE

    con = duckdb.connect()
    for v in ["=1+2", "@SUM(A1)", "-12.5", "+1e5", "-cmd", "host", "\tx"]:
        got = con.execute(f"SELECT {_SAFE.format(c='?')}", [v, v, v, v]).fetchone()[0]
        assert got == cell(v), v
