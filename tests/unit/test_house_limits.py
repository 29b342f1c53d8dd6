"""The sizes the house keeps: a module at most 400 lines, a function at most 60.

Modules are counted outside tests/ and bench/, functions outside tests/: a newcomer
reads a module whole and a function at a glance.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("canopsis", "engines", "webserver", "connectors")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def sources(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def long_functions(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    return [
        f"{path.relative_to(root)}:{node.lineno} {node.name} ({length} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (length := node.end_lineno - node.lineno + 1) > MAX_FUNCTION_LINES
    ]


def test_no_module_is_over_400_lines():
    long = [
        f"{path.relative_to(ROOT)} ({lines} lines)"
        for path in sources(*PACKAGES)
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert long == []


def test_no_function_is_over_60_lines():
    assert [line for path in sources(*PACKAGES, "bench") for line in long_functions(path)] == []


def test_a_function_of_61_lines_is_found(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "long.py").write_text(f"def long():\n{body}\n\n\ndef short():\n    pass\n")
    assert long_functions(tmp_path / "long.py", tmp_path) == ["long.py:1 long (61 lines)"]
