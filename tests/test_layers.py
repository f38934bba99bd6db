"""The import graph points down: no package imports one from a layer above it.

Read from the source with ``ast`` (no third-party tool), lazy imports inside functions
and ``importlib.import_module("...")`` with a literal name included, because a lazy
import is still an arrow: it breaks as soon as the code runs without the package above.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Each top-level package and the packages it may import, lowest layer first:
# the gateway kernel, the stages, the offline evaluation, training, the benchmarks,
# and the tests on top. Stages do not import each other: each is a plug-in.
ALLOWED: dict[str, set[str]] = {
    "gateway": {"gateway"},
    "bpo": {"bpo", "gateway"},
    "aligner": {"aligner", "gateway"},
    "evaluation": {"evaluation", "bpo", "aligner", "gateway"},
    "training": {"training", "evaluation", "bpo", "aligner", "gateway"},
    "benchmarks": {"benchmarks", "training", "evaluation", "bpo", "aligner", "gateway", "tests"},
}
PACKAGES = {*ALLOWED, "tests"}

# Inside the gateway: the serving layer (the app, its routes and services, the commands)
# sits on the kernel; the kernel and the model server never import it.
SERVING = ("gateway.routes", "gateway.services", "gateway.chat_service", "gateway.app")
SERVING += ("gateway.startup", "gateway.cli")
BELOW_SERVING = ("gateway.protocol", "gateway.sse", "gateway.errors", "gateway.engines")
BELOW_SERVING += ("gateway.model_server",)

# Edges known to point up, each with the work that removes it.
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Edge:
    """One import: the file and line it is on, and the module it names."""

    path: str
    line: int
    importer: str
    imported: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported}"


def module_name(root: Path, path: Path) -> str:
    """``gateway/pipeline/stage.py`` -> ``gateway.pipeline.stage``."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute module a relative ``from . import`` names."""
    if level == 0:
        return name or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def edges(root: Path, path: Path) -> list[Edge]:
    """Every module ``path`` imports, statically or through ``import_module("literal")``."""
    module = module_name(root, path)
    shown = path.relative_to(root).as_posix()
    found: list[Edge] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [Edge(shown, node.lineno, module, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, path.name == "__init__.py", node.level, node.module)
            found.append(Edge(shown, node.lineno, module, target))
        elif isinstance(node, ast.Call) and _is_import_module(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append(Edge(shown, node.lineno, module, first.value))
    return found


def _is_import_module(func: ast.expr) -> bool:
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in {"import_module", "__import__"}


def _inside(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def violations(root: Path) -> list[str]:
    """Every import that points up a layer, as ``file:line: edge (rule)``."""
    problems: list[str] = []
    for package, allowed in ALLOWED.items():
        for path in sorted((root / package).rglob("*.py")):
            for edge in edges(root, path):
                top = edge.imported.split(".")[0]
                if (edge.path, edge.imported) in KNOWN_EXCEPTIONS or top not in PACKAGES:
                    continue
                if top not in allowed:
                    problems.append(f"{edge} ({package} may import only {sorted(allowed)})")
                elif _inside(edge.importer, BELOW_SERVING) and _inside(edge.imported, SERVING):
                    problems.append(
                        f"{edge} (the kernel and the model server sit below the serving layer)"
                    )
    return problems


def test_no_package_imports_a_layer_above_it() -> None:
    problems = violations(ROOT)
    assert not problems, "imports pointing up a layer:\n" + "\n".join(problems)


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        ("gateway/cli.py", "def f():\n    from training.cli import x\n", "gateway/cli.py:2"),
        ("gateway/pipeline/r.py", "import bpo.stage\n", "gateway.pipeline.r imports bpo.stage"),
        ("evaluation/x.py", "from training import sft\n", "evaluation/x.py:1"),
        ("bpo/a.py", "from aligner.stage import s\n", "bpo.a imports aligner.stage"),
        ("gateway/g.py", "import importlib\nimportlib.import_module('aligner.x')\n", ":2:"),
        (
            "gateway/model_server/s.py",
            "from gateway.services import S\n",
            "imports gateway.services",
        ),
        ("gateway/engines/e.py", "from ..routes import chat\n", "imports gateway.routes"),
        ("gateway/t.py", "from tests.support.engines import Shared\n", "tests.support"),
    ],
)
def test_the_check_names_the_file_line_and_edge_of_an_upward_import(
    tmp_path: Path, relative: str, source: str, expected: str
) -> None:
    for package in ALLOWED:
        _write(tmp_path, f"{package}/__init__.py", "")
    _write(tmp_path, relative, source)
    [problem] = violations(tmp_path)
    assert expected in problem


def test_imports_pointing_down_pass(tmp_path: Path) -> None:
    for package in ALLOWED:
        _write(tmp_path, f"{package}/__init__.py", "")
    _write(tmp_path, "training/a.py", "from evaluation import b\nimport bpo.stage\n")
    _write(tmp_path, "bpo/stage.py", "from gateway.pipeline.stage import Stage\n")
    _write(tmp_path, "gateway/model_server/a.py", "from gateway.protocol import ErrorBody\n")
    assert violations(tmp_path) == []
