"""The layers' arrows point inward (issue 14), read from the source's imports:

- the domain imports nothing of the service or the projections, and its modules import one
  another without a cycle;
- the projections import the domain and the store's infrastructure (``service.persistence``,
  ``service.transcodings``), and nothing else of the service (``KNOWN_OUTWARD`` lists any
  import still to be removed; it is empty, and may only stay so or shrink);
- the web layer (the API's resources, the web view, their helpers) asks the query side and the
  application, never a projection or the store below them (``WEB_LAYER``); no resource imports
  another's routes or schemas;
- nothing in the project imports in a cycle;
- the demo data (``demo``) is outermost: it may import the service and the domain, and nothing
  in the domain, the service or the projections imports it.

Imports under ``if TYPE_CHECKING:`` are for type checkers only and are not counted."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "projections", "service", "demo")
INFRASTRUCTURE = ("service.persistence", "service.transcodings")
# The web layer: what answers HTTP. It may import the domain (for its enums and limits), the
# application (commands), the query side (questions) and the shape of an event
# (``projections.event_documents``); ``service.api`` alone maps the store's errors to statuses.
WEB_LAYER = ("service.resources", "service.webview", "service.web", "service.exports", "service.api")
EVENT_SHAPE = "projections.event_documents"

# projections -> service imports still to be removed (module, imported module).
KNOWN_OUTWARD: set[tuple[str, str]] = set()


def in_package(name: str, packages: tuple[str, ...]) -> bool:
    """Whether module ``name`` is one of ``packages`` or inside one: ``service.web`` holds
    ``service.web`` only, not ``service.webhooks``."""
    return any(name == package or name.startswith(f"{package}.") for package in packages)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def runtime_imports(name: str) -> set[str]:
    """The project modules ``name`` imports when it runs (not under ``if TYPE_CHECKING:``)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for inner in ast.walk(node))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: runtime_imports(name) for name in MODULES}


def test_the_graph_is_read():
    assert "domain.collaboration" in GRAPH["domain.exit_costs"] or "domain.values" in GRAPH["domain.exit_costs"]
    assert "service.persistence" in GRAPH["projections.tracked"]


def test_the_domain_imports_nothing_outside_it():
    outward = {(name, imported) for name, imports in GRAPH.items() if name.startswith("domain") for imported in imports}
    assert {pair for pair in outward if not pair[1].startswith("domain")} == set()


def test_the_domain_has_no_import_cycle():
    domain = {name: {i for i in imports if i.startswith("domain")} for name, imports in GRAPH.items()}
    domain = {name: imports for name, imports in domain.items() if name.startswith("domain")}
    assert find_cycle(domain) is None


def test_projections_reach_only_the_domain_and_the_store():
    outward = {
        (name, imported)
        for name, imports in GRAPH.items()
        if name.startswith("projections")
        for imported in imports
        if imported.startswith("service") and not imported.startswith(INFRASTRUCTURE)
    }
    assert outward - KNOWN_OUTWARD == set(), "a new import from a projection into the service"
    assert KNOWN_OUTWARD - outward == set(), "an import was removed: take it off KNOWN_OUTWARD"


def test_nothing_inside_imports_the_demo():
    inward = {
        (name, imported)
        for name, imports in GRAPH.items()
        if not name.startswith("demo")
        for imported in imports
        if imported == "demo" or imported.startswith("demo.")
    }
    assert inward == set(), "the demo is outermost: wsgi.py adds its command"
    assert "service.application" in GRAPH["demo.loader"]  # the graph does read the demo


def test_the_web_layer_asks_the_query_side_not_the_projections_or_the_store():
    below = {
        (name, imported)
        for name, imports in GRAPH.items()
        if in_package(name, WEB_LAYER)
        for imported in imports
        if (imported.startswith("projections") and imported != EVENT_SHAPE)
        or (imported.startswith(INFRASTRUCTURE) and name != "service.api")
    }
    assert below == set()
    assert "service.queries" in GRAPH["service.web"]  # the graph does read the web layer


def test_no_resource_imports_another():
    def resource(name: str) -> str | None:
        parts = name.split(".")
        return parts[2] if len(parts) > 3 and parts[:2] == ["service", "resources"] else None

    across = {
        (name, imported)
        for name, imports in GRAPH.items()
        if resource(name)
        for imported in imports
        if resource(imported) and resource(imported) != resource(name)
    }
    assert across == set()


def test_nothing_imports_in_a_cycle():
    assert find_cycle(GRAPH) is None


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` if it has any (depth-first search)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for following in sorted(graph.get(node, ())):
            if state.get(following) == 1:
                return [*path[path.index(following) :], following]
            if following not in state and (cycle := visit(following)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
