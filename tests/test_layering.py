"""The layering of ``src/honeyscope`` (docs/architecture.md): no module imports a higher layer, at
module level or inside a function, and the import graph has no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: layers from the bottom; a module belongs to the longest prefix listed (see architecture.md)
LAYERS: list[tuple[str, ...]] = [
    ("honeyscope", "honeyscope.schema", "honeyscope.parallel", "honeyscope.geo", "honeyscope.text"),
    ("honeyscope.analyse.engine", "honeyscope.analyse.spark"),  # the engine adapter
    ("honeyscope.store",),
    ("honeyscope.ingest", "honeyscope.synth"),
    ("honeyscope.analyse",),
    ("honeyscope.render",),
    ("honeyscope.api",),
    ("honeyscope.cli", "honeyscope.__main__"),
    ("honeyscope.ops",),  # test/ops tooling (a local Spark cluster): may use anything
]


#: upward imports another developer removes in the same change (issue 10): listed with who, so
#: the check holds for everything else meanwhile; an entry that no longer occurs is ignored
PENDING: dict[str, str] = {}


def layer_of(module: str) -> int:
    best, level = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, level = len(p), i
    if level < 0:
        raise AssertionError(f"{module}: in no layer; add it to LAYERS and docs/architecture.md")
    return level


def modules(src: Path = SRC) -> dict[str, Path]:
    out = {}
    for f in sorted((src / "honeyscope").rglob("*.py")):
        parts = list(f.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The honeyscope modules ``name`` imports anywhere in its code (module level, functions,
    ``TYPE_CHECKING`` blocks): ``from a.b import c`` counts as ``a.b.c`` when that is a module,
    else ``a.b``."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                sub = f"{mod}.{a.name}"
                found.add(sub if sub in known else mod)
    return {m for m in found if m == "honeyscope" or m.startswith("honeyscope.")} - {name}


def graph(src: Path = SRC) -> dict[str, set[str]]:
    mods = modules(src)
    known = set(mods)
    return {name: {m for m in imports(name, path, known) if m in known} for name, path in mods.items()}


def upward(g: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} -> {b}" for a, deps in g.items() for b in deps if layer_of(b) > layer_of(a))


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


@pytest.fixture(scope="module")
def g() -> dict[str, set[str]]:
    return graph()


def test_no_import_from_a_lower_layer_to_a_higher_one(g):
    assert len(g) > 50 and "honeyscope.analyse.fleet" in g["honeyscope.render.sections.fleet"]
    assert [u for u in upward(g) if u not in PENDING] == []


def test_no_import_cycle(g):
    assert cycles(g) == []


def test_the_checks_see_violations(tmp_path):
    """On a package written here: a store that imports render inside a function, a relative
    import cycle, and a module in no layer are all caught."""
    pkg = tmp_path / "honeyscope"
    for d in ("store", "render", "ingest"):
        (pkg / d).mkdir(parents=True)
        (pkg / d / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "store" / "store.py").write_text("def f():\n    from honeyscope.render import escape\n")
    (pkg / "render" / "escape.py").write_text("")
    (pkg / "ingest" / "a.py").write_text("from . import b\n")
    (pkg / "ingest" / "b.py").write_text("from .a import x\n")
    g = graph(tmp_path)
    assert upward(g) == ["honeyscope.store.store -> honeyscope.render.escape"]
    assert cycles(g) == [["honeyscope.ingest.a", "honeyscope.ingest.b"]]
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("elsewhere.x")


def test_distributed_ingest_uses_the_local_ingests_public_steps():
    """``ingest/distributed.py`` calls the local ingest (``run``) only through public names."""
    path = SRC / "honeyscope" / "ingest" / "distributed.py"
    private = sorted(
        f"run.{n.attr}" for n in ast.walk(ast.parse(path.read_text()))
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "run"
        and n.attr.startswith("_")
    )
    assert private == []
