"""Money and rates as exact numbers (conventions.md, "Money" and "Rates").

Every amount is in yuan, exact to the fen. Inside kernels an amount is an
``int64`` number of fen; at the public edges it is a :class:`decimal.Decimal`
or an exact decimal column. Binary floats are refused on the way in, because a
float such as ``0.1`` is not the amount the user meant.

Rounding is half-up (四捨五入, ties away from zero) and happens once, at the
stage where an amount is produced. Python's :func:`round` and Decimal's
default context round half-even and would give 3.12 for 3.125; the functions
here give 3.13.

Annual rates are decimal fractions (``0.0385`` is 3.85%). Kernels carry them
as integers in units of ``1 / RATE_SCALE`` (1e-10), so every rate with up to
ten decimal places (one ten-thousandth of a basis point) is exact.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Final

FEN_PER_YUAN: Final = 100
RATE_DECIMALS: Final = 10
RATE_SCALE: Final = 10**RATE_DECIMALS
ONE_FEN: Final = Decimal("0.01")

#: The largest principal the engine accepts, in yuan. Above it the products
#: of balance, rate and days would leave the range where the kernel's float
#: estimate plus exact integer correction is proven (see ``kernels``).
MAX_PRINCIPAL_YUAN: Final = Decimal("1000000000000")  # 1e12 yuan
#: The largest annual rate accepted (100%); higher is taken to be a unit error.
MAX_ANNUAL_RATE: Final = Decimal(1)
#: A number of a thousand digits or more before the point is refused when read,
#: whatever it is for: the engine's own bounds (1e12 yuan, a rate of 1) say why
#: a smaller one is too large, but a hostile ``"1e999999"`` would first cost a
#: million-digit integer to compare.
MAX_MAGNITUDE_DIGITS: Final = 1000


class MoneyError(ValueError):
    """A value that cannot be an exact amount or rate."""


def to_decimal(value: object, what: str = "value") -> Decimal:
    """Convert ``str``, ``int`` or ``Decimal`` to an exact, finite Decimal.

    Floats are refused: a binary float is not the decimal number the user
    typed, so accepting it would silently change amounts.

    >>> to_decimal("1234.50")
    Decimal('1234.50')
    >>> to_decimal(0.1)
    Traceback (most recent call last):
    ...
    subsidy_engine.money.MoneyError: value: floats are not accepted for exact amounts and rates (0.1 is stored as 0.1000000000000000055511151231257827...); pass a str, int or Decimal such as "0.1"
    """
    if isinstance(value, bool):
        raise MoneyError(f"{what}: booleans are not amounts or rates")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MoneyError(f"{what}: {value!r} is not a finite number; amounts and rates are decimals")
        exact = f"{Decimal(value):.34f}".rstrip("0")[:36]
        raise MoneyError(
            f"{what}: floats are not accepted for exact amounts and rates "
            f"({value!r} is stored as {exact}...); pass a str, int or Decimal "
            f'such as "{value!r}"'
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise MoneyError(f"{what}: {_shown(value)} is not a decimal number") from None
    else:
        raise MoneyError(
            f"{what}: expected str, int or Decimal, got {type(value).__name__}"
        )
    if not result.is_finite():
        raise MoneyError(f"{what}: {_shown(value)} is not a finite number")
    if result and result.adjusted() + 1 >= MAX_MAGNITUDE_DIGITS:
        raise MoneyError(f"{what}: {_shown(value)} has {result.adjusted() + 1:,} digits before the point; "
                         "no amount or rate comes near")
    return result


def _shown(value: object) -> str:
    # a hostile value may be megabytes long; the message shows its start and its length
    if isinstance(value, int) and value.bit_length() > 10_000:  # str() refuses ints past 4,300 digits
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    text = repr(value) if isinstance(value, str) else str(value)
    length = len(value) if isinstance(value, str) else len(text)
    return text if len(text) <= 40 else f"{text[:30]}... ({length:,} characters)"


def scaled_integer(value: Decimal, places: int) -> int | None:
    """``value * 10**places`` as an exact int, or None if that is not a whole number.

    Works on the Decimal's own digits, so no context precision can round a
    long value into passing (``Decimal("0.059999999999999999999999999999")``
    has no exact ten-place form, whatever the context).

    >>> scaled_integer(Decimal("12.30"), 2), scaled_integer(Decimal("0.005"), 2)
    (1230, None)
    """
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        return None  # NaN or infinity
    magnitude = int("".join(map(str, digits)) or "0")
    shift = exponent + places
    if magnitude == 0:
        return 0  # "0E+999999" is zero, without a power of ten to build
    if -shift > len(digits):
        return None  # fewer digits than places to drop: a fraction remains, whatever they are
    if shift >= 0:
        result = magnitude * 10**shift
    else:
        result, rest = divmod(magnitude, 10**-shift)
        if rest:
            return None
    return -result if sign else result


def yuan_to_fen(amount: Decimal, what: str = "amount") -> int:
    """Exact yuan -> fen. An amount with a fraction of a fen is an error.

    >>> yuan_to_fen(Decimal("5307.27"))
    530727
    >>> yuan_to_fen(Decimal("0.005"))
    Traceback (most recent call last):
    ...
    subsidy_engine.money.MoneyError: amount: 0.005 has a fraction of a fen; amounts are exact to 0.01 yuan
    """
    fen = scaled_integer(amount, 2)
    if fen is None:
        raise MoneyError(
            f"{what}: {amount} has a fraction of a fen; amounts are exact to 0.01 yuan"
        )
    return fen


def fen_to_yuan(fen: int) -> Decimal:
    """Fen -> yuan as an exact two-place Decimal.

    >>> fen_to_yuan(302813)
    Decimal('3028.13')
    """
    return Decimal(int(fen)).scaleb(-2)


def rate_to_units(rate: Decimal, what: str = "rate") -> int:
    """Exact annual rate -> integer units of 1e-10 used by the kernels.

    >>> rate_to_units(Decimal("0.049"))
    490000000
    """
    units = scaled_integer(rate, RATE_DECIMALS)
    if units is None:
        raise MoneyError(
            f"{what}: {rate} has more than {RATE_DECIMALS} decimal places "
            "(finer than 1/10000 of a basis point)"
        )
    return units


def units_to_rate(units: int) -> Decimal:
    """Kernel rate units -> the exact annual rate as a Decimal.

    >>> units_to_rate(490000000)
    Decimal('0.0490000000')
    """
    return Decimal(int(units)).scaleb(-RATE_DECIMALS)


def div_half_up(numerator: int, denominator: int) -> int:
    """Integer half-up division, ``round(a / b)`` with ties away from zero.

    Notes
    -----
    For a non-negative numerator and a positive denominator this is the
    conventions' rule ``(2a + b) // (2b)``; a negative numerator is rounded
    symmetrically (ties away from zero).

    >>> div_half_up(3028125, 1000)   # 3,028.125 fen -> 3,028.13
    3028
    >>> div_half_up(5, 2), div_half_up(-5, 2), div_half_up(7, 3)
    (3, -3, 2)
    """
    if denominator <= 0:
        raise ZeroDivisionError("div_half_up needs a positive denominator")
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))


def quantize_fen(amount: Decimal) -> Decimal:
    """Round an exact yuan amount half-up to the fen (the only rounding rule).

    >>> quantize_fen(Decimal("3028.125"))
    Decimal('3028.13')
    >>> quantize_fen(Decimal("-0.005"))
    Decimal('-0.01')
    """
    with localcontext() as ctx:
        ctx.prec = 60
        return amount.quantize(ONE_FEN, rounding=ROUND_HALF_UP)


def split_largest_remainder(total: int, weights: list[Decimal]) -> list[int]:
    """Split an integer ``total`` (fen) in proportion to ``weights``, exactly.

    Each part gets the floor of its exact share; the fen left over go one
    each to the largest remainders, ties to the earlier item
    (conventions.md, "Conservation"). The parts always add up to ``total``.

    >>> split_largest_remainder(100, [Decimal(1), Decimal(1), Decimal(1)])
    [34, 33, 33]
    >>> split_largest_remainder(10001, [Decimal("0.5"), Decimal("0.5")])
    [5001, 5000]
    """
    if total < 0:
        raise MoneyError("split_largest_remainder: total must not be negative")
    if not weights or any(not w.is_finite() or w < 0 for w in weights) or not any(weights):
        raise MoneyError("split_largest_remainder: weights must be >= 0 with a positive sum")
    # Work in integers: scale the weights exactly to a common integer base.
    places = max(max(-int(w.as_tuple().exponent) for w in weights), 0)
    ints = [scaled_integer(w, places) for w in weights]
    assert all(v is not None for v in ints)
    denominator = sum(ints)  # type: ignore[arg-type]
    floors = [total * w // denominator for w in ints]  # type: ignore[operator]
    remainders = [total * w % denominator for w in ints]  # type: ignore[operator]
    left = total - sum(floors)
    order = sorted(range(len(ints)), key=lambda k: (-remainders[k], k))
    for k in order[:left]:
        floors[k] += 1
    return floors
