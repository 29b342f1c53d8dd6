"""The layers import one way: the core under everything, the web and the engines side by side.

Every module of ``canopsis/`` (the core), ``engines/`` (``canopsis.engines``), ``webserver/``
(``canopsis.webserver``) and ``connectors/`` (``canopsis.connectors``) is parsed, and its
imports (anywhere in it, relative ones resolved) checked:

- the core never imports the engines, the web or the connectors (an engine named by a
  string, as :func:`canopsis.runtime.engine.engine_class` looks it up, is no import);
- the web and the engines never import each other;
- an engine never imports another engine;
- the connectors import only the core (and their own shared code).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: folder -> the package it installs as (setup.cfg package_dir)
PACKAGES = {
    "canopsis": "canopsis",
    "engines": "canopsis.engines",
    "webserver": "canopsis.webserver",
    "connectors": "canopsis.connectors",
}
ENGINES, WEB, CONNECTORS = "canopsis.engines", "canopsis.webserver", "canopsis.connectors"


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def modules() -> dict[str, Path]:
    """Module name -> file, for every module of the four packages."""
    found = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> list[tuple[int, str]]:
    """``(line, imported module)`` of every import in the module ``name``; ``from a import b``
    names ``a.b`` when that is a module of ours, else ``a``."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".")
                package = package[: len(package) - node.level + (1 if is_package else 0)]
                base = ".".join([*package, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append((node.lineno, full if full in known else base))
    return found


def layer(name: str) -> str:
    for package in (ENGINES, WEB, CONNECTORS):
        if _within(name, package):
            return package
    return "core" if _within(name, "canopsis") else "other"


def forbidden(importer: str, imported: str) -> str | None:
    """Why ``importer`` may not import ``imported``, or None when it may."""
    source, target = layer(importer), layer(imported)
    if target == "other" or source == target == WEB:
        return None
    if source == "core" and target != "core":
        return "the core imports only the core"
    if {source, target} == {WEB, ENGINES}:
        return "the web and the engines never import each other"
    if source == target == ENGINES:
        engine = importer.split(".")[2] if importer != ENGINES else None
        other = imported.split(".")[2] if imported != ENGINES else None
        return None if engine == other else "an engine never imports another engine"
    if source == CONNECTORS and target not in ("core", CONNECTORS):
        return "the connectors import only the core"
    return None


def violations(graph: dict[str, list[tuple[int, str]]], files: dict[str, Path]) -> list[str]:
    return [
        f"{files[importer].relative_to(ROOT)}:{line}: {importer} imports {imported}: {why}"
        for importer, found in sorted(graph.items())
        for line, imported in found
        if (why := forbidden(importer, imported))
    ]


def graph() -> tuple[dict[str, list[tuple[int, str]]], dict[str, Path]]:
    files = modules()
    return {name: imports(name, path, set(files)) for name, path in files.items()}, files


def test_the_layers_import_one_way():
    found, files = graph()
    problems = violations(found, files)
    assert not problems, "forbidden imports:\n" + "\n".join(problems)


def test_the_graph_is_read_from_every_package():
    found, _files = graph()
    for package in (ENGINES, WEB, CONNECTORS, "canopsis.runtime", "canopsis.store"):
        assert any(_within(name, package) for name in found), package
    for importer in (f"{ENGINES}.alerts", f"{WEB}.resources.alarms"):
        assert "canopsis.store.alarms" in {imported for _line, imported in found[importer]}


def test_a_forbidden_import_is_named_with_its_module_and_line():
    files = {f"{ENGINES}.alerts": ROOT / "engines" / "alerts.py"}
    graph = {
        f"{ENGINES}.alerts": [
            (3, "canopsis.store.alarms"),
            (4, f"{ENGINES}.alerts"),
            (5, f"{ENGINES}.context"),
            (6, f"{WEB}.api"),
        ]
    }
    assert violations(graph, files) == [
        "engines/alerts.py:5: canopsis.engines.alerts imports canopsis.engines.context: "
        "an engine never imports another engine",
        "engines/alerts.py:6: canopsis.engines.alerts imports canopsis.webserver.api: "
        "the web and the engines never import each other",
    ]


def test_each_rule():
    assert forbidden("canopsis.runtime.engine", f"{ENGINES}.alerts")
    assert forbidden("canopsis.cli.launch", f"{WEB}.app")
    assert forbidden("canopsis.store.alarms", f"{CONNECTORS}.logtail")
    assert forbidden(f"{WEB}.resources.alarms", f"{ENGINES}.alerts")
    assert forbidden(f"{WEB}.resources.alarms", ENGINES)
    assert forbidden(f"{ENGINES}.pbehavior", f"{ENGINES}.context")
    assert forbidden(f"{CONNECTORS}.logtail", f"{WEB}.api")
    assert forbidden(f"{CONNECTORS}.logtail", f"{ENGINES}.cleaner")
    assert not forbidden(f"{ENGINES}.pbehavior", "canopsis.store.entities")
    assert not forbidden(f"{WEB}.resources.alarms", f"{WEB}.api")
    assert not forbidden(f"{CONNECTORS}.logtail", "canopsis.runtime.amqp")
    assert not forbidden("canopsis.store.alarms", "pymongo")
