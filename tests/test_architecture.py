"""The package's layering holds (issue 17, point 7): read from the code's own imports, every import goes
down the layers, no modules import each other in a circle, no production module imports the reference, and
no module takes another module's underscore names.

Every ``import`` and ``from ... import`` counts, at the top of a module, inside a function or under
``TYPE_CHECKING``: an import inside a function still ties the two modules together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import subsidy_engine

PACKAGE = Path(subsidy_engine.__file__).parent

#: The layers, lowest first. A module may import its own layer and the layers before it.
LAYERS = ("errors", "core", "kernels", "io", "params", "loans", "measures", "pipeline", "budgeting", "simulation",
          "reports", "service")
#: What the reference (independent evidence for the tests) may read: the engine's words, loan models, parameters.
REFERENCE_MAY_IMPORT = ("errors", "core", "loans.contract", "loans.schedule", "params", "reference")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def imports_of(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for each import of the package in ``path``."""
    name = module_name(path)
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("subsidy_engine."):
                    found.append((alias.name.removeprefix("subsidy_engine."), [], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            elif node.module and (node.module == "subsidy_engine" or node.module.startswith("subsidy_engine.")):
                target = node.module.removeprefix("subsidy_engine").removeprefix(".")
            else:
                continue
            names = [a.name for a in node.names]
            submodules = [n for n in names if (PACKAGE / target.replace(".", "/") / f"{n}.py").exists()
                          or (PACKAGE / target.replace(".", "/") / n / "__init__.py").exists()]
            for sub in submodules:
                found.append((f"{target}.{sub}".strip("."), [], node.lineno))
            rest = [n for n in names if n not in submodules]
            if rest:
                found.append((target, rest, node.lineno))
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
PRODUCTION = sorted(m for m in MODULES if m and not m.startswith("reference"))


def layer(module: str) -> int:
    top = module.split(".")[0]
    return LAYERS.index(top) if top in LAYERS else len(LAYERS)


@pytest.mark.parametrize("module", PRODUCTION)
def test_imports_only_go_down(module: str) -> None:
    upward = [f"line {line}: {target or 'subsidy_engine'}" for target, _, line in imports_of(MODULES[module])
              if not target.startswith("reference") and layer(target) > layer(module)]
    assert not upward, f"{module} imports a higher layer: {upward}"


@pytest.mark.parametrize("module", PRODUCTION)
def test_no_production_module_imports_the_reference(module: str) -> None:
    found = [f"line {line}: {target}" for target, _, line in imports_of(MODULES[module])
             if (target == "reference" or target.startswith("reference."))]
    assert not found, f"{module} imports the reference: {found}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("reference")))
def test_the_reference_reads_only_the_engines_words_loan_models_and_parameters(module: str) -> None:
    found = [f"line {line}: {target}" for target, _, line in imports_of(MODULES[module])
             if not any(target == allowed or target.startswith(allowed + ".") for allowed in REFERENCE_MAY_IMPORT)]
    assert not found, f"{module} imports beyond what the reference may read: {found}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_takes_another_modules_underscore_names(module: str) -> None:
    taken = [f"line {line}: {target}.{name}" for target, names, line in imports_of(MODULES[module])
             for name in names if name.startswith("_") and name != "__version__" and target != module]
    assert not taken, f"{module} imports private names: {taken}"


def test_no_modules_import_each_other_in_a_circle() -> None:
    graph = {m: {t for t, _, _ in imports_of(p) if t in MODULES and t != m and t != ""} for m, p in MODULES.items()}
    circles = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not circles, f"import circles: {circles}"


def test_the_layering_test_sees_a_violation() -> None:
    """The checks above would fail on a module that broke the rules (they are not vacuous)."""
    assert layer("service.cli") > layer("core.money") and layer("reference.calculators") == len(LAYERS)
    loans = imports_of(MODULES["loans.schedule"])
    assert any(target == "loans.amortization" for target, _, _ in loans)
    assert any(target == "core.money" and "fen_to_yuan" in names for target, names, _ in loans)


def test_the_tests_mirror_the_package() -> None:
    """One test folder per layer of the package (the reference is tested where it is compared: kernels, measures,
    pipeline, budgeting); the package-wide checks stay at the top of tests/."""
    tests = Path(__file__).parent
    layers = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists() and p.name != "reference")
    missing = [name for name in layers if not list((tests / name).glob("test_*.py"))]
    assert not missing, f"no tests/<layer>/test_*.py for {missing}"
    strays = sorted(p.name for p in tests.glob("*/") if p.is_dir() and p.name not in layers and p.name != "__pycache__")
    assert not strays, f"test folders that are not layers of the package: {strays}"
