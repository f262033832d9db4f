"""What a calculator over a table returns: claims, what was not paid and why, rejected rows."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any, Callable, Sequence, get_args, get_origin

import numpy as np
import pandas as pd
from pydantic import BaseModel

from subsidy_engine.core.columns import date_series, money_series
from subsidy_engine.core.provenance import Provenance
from subsidy_engine.io.column_readers import Read


@dataclass(frozen=True)
class ClaimRows:
    """A calculator's rows as arrays, before they become tables.

    ``columns`` are aligned arrays (or Series), money as int64 fen under the names
    in ``money``; ``paid`` marks the rows that are claims, ``reasons`` says why
    the others are not. ``not_paid``, when given, lists unpaid items that are not
    rows (a premium subsidy's ineligible policies). :func:`subsidy_engine.evaluate`
    works on these arrays; the calculators turn them into a :class:`ClaimsResult`.
    """

    columns: dict[str, Any]
    money: tuple[str, ...]
    paid: np.ndarray
    id_column: str
    reasons: np.ndarray
    rejections: pd.DataFrame
    digest: str
    not_paid: dict[str, Any] | None = None  # columns: the id, other columns, ``reason``
    dates: tuple[str, ...] = ()  # columns of days since 1970-01-01, shown as dates
    internal: dict[str, Any] = field(default_factory=dict)  # evaluate's extra arrays, never shown


def take(value: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of a column given as a Series (index reset) or an array."""
    if isinstance(value, pd.Series):
        return value.take(index).reset_index(drop=True)
    if isinstance(value, np.ndarray):
        return value[index]
    return value


@dataclass(frozen=True)
class ClaimsResult:
    """Attributes
    ----------
    claims : DataFrame
        One row per payable item, its exact ``amount`` and the cuts that made it.
    not_paid : DataFrame
        Items that are valid but get nothing (ineligible, already granted...), with the reason.
    rejections : DataFrame
        ``row, <id>, field, reason`` for rows that could not be read.
    provenance : Provenance
    notes : list of str
        What the figures rest on beyond the data, said in words (a projection of the business-day calendar).
    """

    claims: pd.DataFrame
    not_paid: pd.DataFrame
    rejections: pd.DataFrame
    provenance: Provenance
    notes: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, rows: ClaimRows) -> ClaimsResult:
        """The paid rows become ``claims`` (money as exact decimals), the others ``not_paid``."""
        paid = np.flatnonzero(rows.paid)
        def column(name: str, value: Any) -> Any:
            taken = take(value, paid)
            if name in rows.money:
                return money_series(taken)
            return date_series(taken) if name in rows.dates else taken

        claims = pd.DataFrame({name: column(name, value) for name, value in rows.columns.items()})
        not_paid = None if rows.not_paid is None else pd.DataFrame(rows.not_paid)
        if not_paid is None:
            unpaid = np.flatnonzero(~rows.paid)
            ids = rows.columns[rows.id_column]
            not_paid = pd.DataFrame({rows.id_column: np.asarray(take(ids, unpaid), dtype=object),
                                     "reason": rows.reasons[unpaid]})
        return cls(claims=claims, not_paid=not_paid, rejections=rows.rejections,
                   provenance=Provenance.of(rows.digest), notes=list(rows.internal.get("notes", ())))

    @property
    def total(self) -> Decimal:
        """The exact sum of the claims."""
        return Decimal(sum(self.claims.amount, Decimal(0)))


def read_items(items: pd.DataFrame | Sequence[BaseModel], columns: Sequence[str],
               reader: Callable[[pd.DataFrame], tuple[dict[str, np.ndarray], np.ndarray, pd.DataFrame]],
               read: Read | None = None) -> tuple[dict[str, np.ndarray], pd.DataFrame, pd.DataFrame]:
    """Read a table (or row models) with ``reader``: (arrays, the good rows, rejections); ``read``: what the
    reader made of this table already (the pipeline reads each table once)."""
    frame = items if isinstance(items, pd.DataFrame) else models_to_frame(items, columns)
    arrays, positions, rejections = read if read is not None else Read(*reader(frame))
    return arrays, frame.reset_index(drop=True).take(positions).reset_index(drop=True), rejections


def model_cells(model: BaseModel, *, events_elsewhere: bool = False) -> dict[str, Any]:
    """A row model as the row of its table: plain values (``Decimal``, ``date``, ``int``), words for enums, a
    nested model flattened as its table spells it (a loan's ``floating`` as ``floating_tenor``,
    ``floating_spread_bp``, ``floating_reset``), lists for sequences.

    A loan's drawdowns and prepayments are rows of their own tables, not cells: a loan with some is refused
    unless the caller says it puts them ``events_elsewhere`` (they are then left out of the row).

    >>> from subsidy_engine import Loan
    >>> loan = Loan(principal="1000", floating={"tenor": "5y", "spread_bp": "-20"}, term_months=12,
    ...             start_date="2024-01-15")
    >>> {k: v for k, v in model_cells(loan).items() if k.startswith("floating")}
    {'floating_tenor': '5y', 'floating_spread_bp': Decimal('-20'), 'floating_reset': 'january'}
    """
    def plain(value: Any) -> Any:
        if isinstance(value, Enum):
            return value.value
        return list(value) if isinstance(value, tuple) else value

    row: dict[str, Any] = {}
    for name, nested in _fields_of(type(model)):
        value = getattr(model, name)
        if nested is _EVENTS:  # a loan's drawdowns and prepayments: not cells of its row
            if value and not events_elsewhere:
                raise ValueError(f"{name}: a loan table has no cells for a loan's {name}; price this loan with "
                                 "amortize() and interest_subsidy()")
            continue
        if nested is None:
            row[name] = plain(value)
        elif value is None:  # the same columns, blank: a table of fixed and floating loans has one shape
            row.update({f"{name}_{key}": None for key in nested.model_fields})
        else:
            row.update({f"{name}_{key}": inner for key, inner in model_cells(value, events_elsewhere=events_elsewhere
                                                                               ).items()})
    return row


@functools.cache
def _fields_of(model: type[BaseModel]) -> tuple[tuple[str, type[BaseModel] | None], ...]:
    """A model class's fields, each with the model class it holds (or None): read once per class."""
    return tuple((name, _nested_model(info.annotation)) for name, info in model.model_fields.items())


class _Events(BaseModel):
    """Marks a field that holds a sequence of models (a loan's drawdowns and prepayments)."""


_EVENTS = _Events


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model class a field holds (``FloatingRate | None`` -> FloatingRate), :data:`_EVENTS` for a
    sequence of models, or None."""
    if get_origin(annotation) is tuple:
        return _EVENTS if any(isinstance(a, type) and issubclass(a, BaseModel) for a in get_args(annotation)) \
            else None
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def models_to_frame(models: Sequence[BaseModel], columns: Sequence[str], *, events_elsewhere: bool = False
                    ) -> pd.DataFrame:
    """Row models as a table of plain Python cells (object columns: an absent value stays None, an integer
    stays an integer), each row as :func:`model_cells` spells it; ``columns`` when there is no model."""
    rows = [model_cells(model, events_elsewhere=events_elsewhere) for model in models]
    names = list(dict.fromkeys(key for row in rows for key in row)) or list(columns)
    return pd.DataFrame({name: pd.Series([row.get(name) for row in rows], dtype=object) for name in names})
