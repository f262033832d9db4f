"""The install's extras (issue 19, point 7): the core (the calculators, evaluate, allocate, explain, quote, the
command line) imports and computes without the ``reports``, ``serve`` and ``optimal`` extras, and a feature of a
missing extra says which to install; the ``dev`` extra (the README's two commands) installs every extra.

Without the network: a fresh process in which the extras' packages cannot be imported (``sys.modules[name] =
None``, as if they were not installed) stands for an environment installed without them."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: what the extras install, and what those packages import of their own (fastapi's starlette and anyio)
BLOCKED = ("matplotlib", "scipy", "highspy", "fastapi", "fastapi_offline", "starlette", "anyio", "uvicorn", "dask",
           "distributed")

SCRIPT = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # import name: ModuleNotFoundError, as when the package is not installed

from pathlib import Path

import subsidy_engine
from subsidy_engine import Loan, allocate, amortize, evaluate, explain, load_policy
from subsidy_engine.service import quote  # the portal's quotes: the core
from subsidy_engine.service.cli import main
from subsidy_engine.simulation.synthetic import portfolio

assert amortize(Loan(principal="1000000", annual_rate="0.049", term_months=12, start_date="2024-01-15")).periods == 12
tables = portfolio(50, seed=1)
claims = evaluate(tables, load_policy(), range(2026, 2029))
assert claims.total > 0
assert allocate(claims).total_awarded > 0
assert explain(claims, tables.projects.project_id.iloc[0])


def refused(call, needs, extra):
    try:
        call()
    except subsidy_engine.MissingExtraError as exc:
        assert isinstance(exc, ImportError) and exc.extra == extra, exc
        assert str(exc) == needs + ': pip install "subsidy-engine[' + extra + ']"', str(exc)
    else:
        raise AssertionError(f"{{call}} ran without the {{extra}} extra")


from subsidy_engine.reports.charts import outlay_chart
refused(lambda: outlay_chart(None, Path("never.png")), "the charts need matplotlib", "reports")
refused(lambda: allocate(claims, mode="optimal"), "the optimal allocation mode needs scipy", "optimal")
refused(lambda: __import__("subsidy_engine.service.serve"),
        "the HTTP service (subsidy-engine serve) needs fastapi and uvicorn", "serve")
assert main(["serve"]) == 2  # one line on standard error, not a traceback
from subsidy_engine.simulation.cluster import connect
refused(lambda: connect("local:1").__enter__(), "running on a cluster (--cluster, client=) needs dask.distributed",
        "distributed")
assert main(["simulate", "--projects", "20", "--paths", "1", "--cluster", "local:1", "--out", "never"]) == 2
assert not Path("never").exists()
imported = sorted(name for name, module in sys.modules.items() if module is not None and name.split(".")[0] in {BLOCKED!r})
assert not imported, imported
print("lean")
"""


def test_the_core_imports_and_computes_without_the_extras_and_a_missing_extra_is_named() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip() == "lean", done.stderr[-3000:]
    said = done.stderr.strip().splitlines()
    assert said[-2:] == ['error: the HTTP service (subsidy-engine serve) needs fastapi and uvicorn: pip install '
                         '"subsidy-engine[serve]"', 'error: running on a cluster (--cluster, client=) needs '
                         'dask.distributed: pip install "subsidy-engine[distributed]"'], said[-5:]


def test_simulate_without_the_reports_extra_writes_all_but_the_charts_and_names_the_extra(tmp_path: Path) -> None:
    script = (f"import sys\nfor name in {BLOCKED!r}:\n    sys.modules[name] = None\n"
              "from subsidy_engine.service.cli import main\n"
              f"sys.exit(main(['simulate', '--projects', '20', '--start', '2026', '--years', '2', '--out', "
              f"{str(tmp_path / 'sim')!r}]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2026" in done.stdout and "2027" in done.stdout  # computed, and its figures printed
    assert 'pip install "subsidy-engine[reports]"' in done.stderr and "未安装图表组件" in done.stderr
    written = {p.name for p in (tmp_path / "sim").iterdir()}
    assert written == {"summary.json", "report.xlsx", "manifest.json"}  # everything but the charts


def requirement_names(requirements: list[str], extras: dict[str, list[str]]) -> set[str]:
    """The packages ``requirements`` install, with the project's own extras (``subsidy_engine[a,b]``) expanded."""
    names: set[str] = set()
    for requirement in requirements:
        match = re.match(r"\s*([A-Za-z0-9._-]+)\s*(?:\[([^\]]*)\])?", requirement)
        assert match, requirement
        name = re.sub(r"[-_.]+", "-", match[1]).lower()
        if name == "subsidy-engine":
            for extra in (match[2] or "").split(","):
                names |= requirement_names(extras[extra.strip()], extras)
        else:
            names.add(name)
    return names


def test_the_dev_extra_installs_every_extra() -> None:
    """The README's two commands (``pip install -e ".[dev]"``) install everything, so that they still pass."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    assert {"reports", "serve", "optimal", "all", "dev"} <= set(extras)
    dev, everything = requirement_names(extras["dev"], extras), requirement_names(extras["all"], extras)
    for extra, requirements in extras.items():
        assert requirement_names(requirements, extras) <= dev, f"dev lacks what {extra} installs"
        if extra != "dev":
            assert extra == "all" or requirement_names(requirements, extras) <= everything, extra
    assert {"matplotlib", "fastapi", "fastapi-offline", "uvicorn", "scipy"} <= everything
    assert not requirement_names(project["dependencies"], extras) & everything  # the core is without them
