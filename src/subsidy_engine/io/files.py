"""Reading input files: loan tables (without letting a float near the money) and YAML parameter files."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml


def read_loans(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a loan table from CSV (every column as text) or Parquet.

    CSV columns are read as strings so that ``"0.049"`` stays the decimal the
    file says; blanks become missing values. Parquet keeps its own types
    (decimal columns are exact; float columns are refused by the engine).
    """
    file = Path(path)
    if file.suffix.lower() == ".parquet":
        return pd.read_parquet(file)
    return pd.read_csv(file, dtype=str, keep_default_na=False, na_values=[""])


def demo_loans_path() -> Path:
    """The bundled demo portfolio (a few hundred loans, some with problems)."""
    return Path(str(resources.files("subsidy_engine") / "data" / "demo_loans.csv"))


def read_yaml(file: Path, error: type[Exception], what: str) -> tuple[object, bytes]:
    """A YAML file's data and its bytes (for the hash); an unreadable or invalid file raises ``error``."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise error(f"{file}: cannot read the {what} ({exc.strerror})") from None
    try:
        return yaml.safe_load(raw), raw
    except yaml.YAMLError as exc:
        raise error(f"{file}: not valid YAML: {exc}") from None
