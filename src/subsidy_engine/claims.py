"""What a calculator over a table returns: claims, what was not paid and why, rejected rows."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel

from .provenance import Provenance


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
    """

    claims: pd.DataFrame
    not_paid: pd.DataFrame
    rejections: pd.DataFrame
    provenance: Provenance

    @classmethod
    def split(cls, columns: dict[str, object], paid: np.ndarray, id_column: str, reasons: np.ndarray,
              rejections: pd.DataFrame, digest: str) -> ClaimsResult:
        """One row per item: the paid ones become ``claims``, the others ``not_paid`` with their reason."""
        frame = pd.DataFrame(columns)
        not_paid = pd.DataFrame({id_column: frame[id_column][~paid].to_numpy(dtype=object),
                                 "reason": reasons[~paid]})
        return cls(claims=frame[paid].reset_index(drop=True), not_paid=not_paid, rejections=rejections,
                   provenance=Provenance.of(digest))

    @property
    def total(self) -> Decimal:
        """The exact sum of the claims."""
        return Decimal(sum(self.claims.amount, Decimal(0)))


def read_items(items: pd.DataFrame | Sequence[BaseModel], columns: Sequence[str],
               reader: Callable[[pd.DataFrame], tuple[dict[str, np.ndarray], np.ndarray, pd.DataFrame]],
               ) -> tuple[dict[str, np.ndarray], pd.DataFrame, pd.DataFrame]:
    """Read a table (or row models) with ``reader``: (arrays, the good rows, rejections)."""
    frame = items if isinstance(items, pd.DataFrame) else models_to_frame(items, columns)
    arrays, positions, rejections = reader(frame)
    return arrays, frame.reset_index(drop=True).take(positions).reset_index(drop=True), rejections


def models_to_frame(models: Sequence[BaseModel], columns: Sequence[str]) -> pd.DataFrame:
    """Row models as a table of exact text values, read back by the table path as written."""
    return pd.DataFrame([m.model_dump(mode="json") for m in models], columns=list(columns), dtype=object)
