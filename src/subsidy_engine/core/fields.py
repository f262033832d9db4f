"""The validated field types of every model: money, rates and spreads.

``Money`` accepts ``str``, ``int`` or ``Decimal`` yuan (``"500萬"`` as a cell
reads it) exact to the fen; ``Rate`` a fraction or a percentage exact to 1e-10
and between 0 and 1. Floats are refused: a binary float is not the decimal
number the user meant. pydantic's error names the field, so the messages here
do not.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Final

from pydantic import BeforeValidator, ConfigDict

from subsidy_engine.core.money import (
    ABOVE_MAX_AMOUNT,
    ABOVE_MAX_SCORE,
    MAX_AMOUNT_YUAN,
    MAX_ANNUAL_RATE,
    rate_to_units,
    scaled_integer,
    to_decimal,
    yuan_to_fen,
)
from subsidy_engine.errors import MoneyError


def _exact(value: object, *, percent: bool = False, units: bool = False) -> Decimal:
    # pydantic's error already names the field, so the message drops its own.
    try:
        return to_decimal(value, "_", percent=percent, units=units)
    except MoneyError as exc:
        raise ValueError(str(exc).removeprefix("_: ")) from None


def _decimal(value: object) -> Decimal:
    return _exact(value)


def _money(value: object) -> Decimal:
    amount = _exact(value, units=True)  # "500萬" as a table cell reads it
    try:
        yuan_to_fen(amount, "_")  # refuses fractions of a fen
    except MoneyError as exc:
        raise ValueError(str(exc).removeprefix("_: ")) from None
    if abs(amount) > MAX_AMOUNT_YUAN:
        raise ValueError(f"{amount} {ABOVE_MAX_AMOUNT}")
    return amount


def _score(value: object) -> Decimal:
    score = _exact(value)  # a number, not an amount: no 萬/億/元
    if scaled_integer(score, 2) is None:
        raise ValueError(f"{score} has more than 2 decimal places")
    if abs(score) > MAX_AMOUNT_YUAN:
        raise ValueError(f"{score} {ABOVE_MAX_SCORE}")
    return score


def _rate(value: object) -> Decimal:
    rate = _exact(value, percent=True)  # "3.85%" as a table cell reads it
    try:
        rate_to_units(rate, "_")  # refuses rates finer than 1e-10
    except MoneyError as exc:
        raise ValueError(str(exc).removeprefix("_: ")) from None
    if rate < 0:
        raise ValueError(f"{rate} is negative; an annual rate is a fraction >= 0 (0.0385 = 3.85%)")
    if rate > MAX_ANNUAL_RATE:
        raise ValueError(
            f"{rate} is above 1 (100% a year); an annual rate is a fraction, 0.0385 = 3.85%"
        )
    return rate


Money = Annotated[Decimal, BeforeValidator(_money)]
#: A score in hundredths (a merit score): exact, two decimals at most, bounded as money is, but no unit.
Score = Annotated[Decimal, BeforeValidator(_score)]
Rate = Annotated[Decimal, BeforeValidator(_rate)]
SpreadBp = Annotated[Decimal, BeforeValidator(_decimal)]

#: What a ``Money``, ``Rate`` or ``SpreadBp`` field takes when a model is built (for the type checker: a model's
#: own signature says what its fields hold, the decimals their validators make; floats are refused when read).
NumberInput = Decimal | int | str


#: How every model of the engine's inputs is configured: values of the declared types only (the field types
#: above read text), immutable once made, and an unknown field is an error that names it.
STRICT_MODEL: Final = ConfigDict(strict=True, frozen=True, extra="forbid")
