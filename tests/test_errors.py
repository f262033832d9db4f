"""Errors in one place (issue 17, point 4): every error the engine raises on purpose is a
``SubsidyEngineError``, defined in ``subsidy_engine.errors``, still importable where it was and still the
built-in kind it was (a ``ValueError`` stays one, so older ``except ValueError`` code keeps working)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import subsidy_engine
from subsidy_engine import errors

#: the module that raises each error (where older code imported it from), and the built-in kind it must stay
WAS = {"MoneyError": ("core.money", ValueError), "DateError": ("core.dates", ValueError),
       "PortfolioSchemaError": ("loans.arrays", ValueError),
       "PortfolioValidationError": ("loans.portfolio", ValueError),
       "EvaluationError": ("pipeline.evaluate", ValueError), "BudgetError": ("params.budget", ValueError),
       "PolicyError": ("params.policy", ValueError), "ScenarioError": ("simulation.scenario", ValueError),
       "CoverageError": ("params.lpr", LookupError), "OptimalError": ("budgeting.optimal", RuntimeError),
       "OutputLockError": ("reports.outputs", OSError), "OutputBusyError": ("reports.outputs", OSError)}


def test_every_error_class_of_the_package_is_defined_in_errors_under_one_base() -> None:
    found = {}
    for module in pkgutil.walk_packages(subsidy_engine.__path__, "subsidy_engine."):
        loaded = importlib.import_module(module.name)
        for name, value in vars(loaded).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and \
                    value.__module__.startswith("subsidy_engine"):
                found[name] = value
    assert found, "no error class found"
    for name, value in found.items():
        assert value.__module__ == "subsidy_engine.errors", f"{name} is defined in {value.__module__}"
        assert issubclass(value, errors.SubsidyEngineError) or value is errors.SubsidyEngineError, name
    assert set(WAS) <= set(found)


@pytest.mark.parametrize("name", sorted(WAS))
def test_an_error_is_importable_from_the_top_level_and_where_it_is_raised_and_stays_its_kind(name: str) -> None:
    module, kind = WAS[name]
    cls = getattr(importlib.import_module(f"subsidy_engine.{module}"), name)
    assert cls is getattr(errors, name) is getattr(subsidy_engine, name)
    assert issubclass(cls, kind) and issubclass(cls, errors.SubsidyEngineError)


def test_the_strict_mode_errors_carry_their_report() -> None:
    from subsidy_engine.pipeline.inputs import PortfolioTables
    from subsidy_engine.simulation.synthetic import portfolio

    tables = portfolio(30, seed=3)
    bad = tables.loans.copy()
    bad.loc[0, "term_months"] = 0
    broken = PortfolioTables(projects=tables.projects, loans=bad, insurance=tables.insurance, events=tables.events,
                             problems=tables.problems, source=tables.source, digest=tables.digest)
    with pytest.raises(errors.SubsidyEngineError) as caught:
        subsidy_engine.evaluate(broken, strict=True)
    assert isinstance(caught.value, errors.EvaluationError) and len(caught.value.rejections)
    assert "the portfolio" in str(caught.value)


def test_the_command_line_says_any_engine_error_in_one_line(tmp_path, capsys, monkeypatch) -> None:  # noqa: ANN001
    """The CLI catches the base: an engine error that is no ValueError (HiGHS finding no optimum) was a
    traceback; it is one line and exit 2."""
    import subsidy_engine.simulation.simulate as simulation
    from subsidy_engine.service.cli import main

    def no_optimum(*args: object, **kwargs: object) -> None:
        raise errors.OptimalError("HiGHS found no optimum (status 4)")

    monkeypatch.setattr(simulation, "allocate", no_optimum)
    assert main(["simulate", "--projects", "20", "--out", str(tmp_path / "sim"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: HiGHS found no optimum (status 4)"]
