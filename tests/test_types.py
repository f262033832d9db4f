"""mypy holds over the package and over the README's examples, with the rules of pyproject.toml's
``[tool.mypy]``: run here so that the README's one test command checks it too (as test_lint.py does ruff)."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from subsidy_engine.loans.contract import FloatingRate, Loan
from subsidy_engine.params.rules import InterestSubsidyRule, PremiumSubsidyRule

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TIMEOUT = 600  # seconds: a first run without mypy's cache checks every module



def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    """mypy with pyproject.toml's configuration, from the repository root (where the package resolves)."""
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)


def _readme_as_module(text: str) -> str:
    """The README's ```python blocks (found as tests/test_readme.py finds them, run in order as one module),
    each at its own line of the README, so that mypy's line numbers are the README's."""
    lines = [""] * (text.count("\n") + 1)
    for block in re.finditer(r"```python\n(.*?)```", text, re.S):
        first = text.count("\n", 0, block.start(1))
        for k, line in enumerate(block.group(1).splitlines()):
            lines[first + k] = line
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def mypy_of_package_and_readme(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, int]:
    """One mypy run over the package and the README's examples: ``(package's errors, README's, exit code)``.
    One run, not two: the README's examples import the package, so a run of their own checks it again (about
    30 s more on a fresh clone, without mypy's cache)."""
    code = _readme_as_module(README.read_text(encoding="utf-8"))
    assert code.strip(), "the README has no ```python block"
    module = tmp_path_factory.mktemp("readme") / "readme_examples.py"
    module.write_text(code, encoding="utf-8")
    files = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]["files"]
    done = _mypy(*files, str(module))  # the files of [tool.mypy] (named, they replace it), and the examples
    output = done.stdout + done.stderr
    if done.returncode not in (0, 1) or "prevented further checking" in output:
        # a crash, or a file mypy could not parse (it then checks nothing else): neither part was checked
        unchecked = f"mypy did not check both parts (exit {done.returncode}):\n{output}"
        return unchecked, unchecked, done.returncode
    readme, package = [], []
    for line in output.splitlines():
        (readme if line.startswith(str(module)) else package).append(line.replace(str(module), "README.md"))
    return "\n".join(package), "\n".join(readme), done.returncode


def test_mypy_finds_nothing_in_the_package(mypy_of_package_and_readme: tuple[str, str, int]) -> None:
    package, readme, returncode = mypy_of_package_and_readme
    # a failed run is the README's alone when every error is in it (a run that stopped early fails both)
    assert returncode == 0 or (returncode == 1 and ": error:" in readme and ": error:" not in package), package


def test_mypy_finds_nothing_in_the_readme_examples(mypy_of_package_and_readme: tuple[str, str, int]) -> None:
    package, readme, returncode = mypy_of_package_and_readme
    assert returncode == 0 or (returncode == 1 and ": error:" in package and ": error:" not in readme), readme


@pytest.mark.parametrize("model", [FloatingRate, Loan, InterestSubsidyRule, PremiumSubsidyRule])
def test_typed_constructors_name_every_field(model: type[BaseModel]) -> None:
    """A model whose ``__init__`` is declared for the type checker (what its validators take: text for amounts,
    dates and names) names every field, in order, and nothing else, with a default where the field has one:
    the declaration follows the fields."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(model)))
    inits = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "__init__"]
    assert len(inits) == 1, f"{model.__name__}: one typed __init__ expected"
    assert not inits[0].args.args[1:] and not inits[0].args.vararg and not inits[0].args.kwarg  # keywords only
    args = inits[0].args
    assert [a.arg for a in args.kwonlyargs] == list(model.model_fields)
    filled = getattr(model, "FILLED_FROM_DRAWDOWNS", ())  # required, but a validator may fill them in
    assert [d is None for d in args.kw_defaults] == [f.is_required() and name not in filled
                                                     for name, f in model.model_fields.items()]
