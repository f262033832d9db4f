"""Money and rates as exact numbers (docs/conventions.md, "Money" and "Rates").

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
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from fractions import Fraction
from typing import Final

import numpy as np

from subsidy_engine.errors import MoneyError

FEN_PER_YUAN: Final = 100
RATE_DECIMALS: Final = 10
RATE_SCALE: Final = 10**RATE_DECIMALS
ONE_FEN: Final = Decimal("0.01")
#: A basis point is 1e-4 of one: a spread in bp is exact to 1e-6 bp in the kernels' 1e-10 rate units.
BP_DECIMALS: Final = 4

#: The largest amount the engine accepts anywhere, in yuan: a principal, an investment, a premium, a
#: bank's claimed figure, an amount of a quote. Above it the products of balance, rate and days would
#: leave the range where the kernel's float estimate plus exact integer correction is proven (see
#: ``kernels.arithmetic``).
MAX_AMOUNT_YUAN: Final = Decimal("1000000000000")  # 1e12 yuan
#: The most fen amounts may add up to where they are summed together (about 9e13 yuan): sums stay exact in int64 and
#: in float64 bincounts. Claims or caps above it are refused by the allocation, a table's total by its reader.
MAX_TOTAL_FEN: Final = 2**53
MAX_AMOUNT_FEN: Final = int(MAX_AMOUNT_YUAN) * FEN_PER_YUAN
#: Why an amount above :data:`MAX_AMOUNT_YUAN` is refused, as every reader and model says it.
ABOVE_MAX_AMOUNT: Final = f"is above the supported maximum of {MAX_AMOUNT_YUAN} yuan"
#: The same bound for a number in hundredths that is not money (a merit score).
ABOVE_MAX_SCORE: Final = f"is above the supported maximum of {MAX_AMOUNT_YUAN}"
#: The largest annual rate accepted (100%); higher is taken to be a unit error.
MAX_ANNUAL_RATE: Final = Decimal(1)
#: A number of a thousand digits or more before the point is refused when read,
#: whatever it is for: the engine's own bounds (1e12 yuan, a rate of 1) say why
#: a smaller one is too large, but a hostile ``"1e999999"`` would first cost a
#: million-digit integer to compare.
MAX_MAGNITUDE_DIGITS: Final = 1000


def to_decimal(value: object, what: str = "value", *, percent: bool = False, units: bool = False) -> Decimal:
    """Convert ``str``, ``int`` or ``Decimal`` to an exact, finite Decimal.

    Floats are refused: a binary float is not the decimal number the user
    typed, so accepting it would silently change amounts. Text is read by one
    rule, the same wherever a number is typed (see Notes), and never guessed at.

    Parameters
    ----------
    value : str, int or Decimal
        The number. ``bool`` and ``float`` are refused.
    what : str
        The name the error message starts with (the field being read).
    percent : bool
        The caller says a percent is allowed here (rates and shares): a
        trailing ``%`` divides the number by 100, exactly.
    units : bool
        The caller says this is an amount in yuan: a trailing 萬/万
        (x 10,000) or 億/亿 (x 100,000,000), each optionally followed by 元,
        or a bare 元 (x 1) is read.

    Returns
    -------
    Decimal
        Finite, with fewer than ``MAX_MAGNITUDE_DIGITS`` digits before the point.

    Raises
    ------
    MoneyError
        The value is not an exact finite number, or its text breaks the rule;
        the message says what is wrong and how to write it.

    Notes
    -----
    The text rule: whitespace around the number is trimmed; full-width
    characters (as a Chinese input method types them: ``１２３４．５０``,
    ``１，０００``, ``－５``, ``％``) are read as their ASCII forms (their
    Unicode NFKC normalisation; other lookalikes such as ``²`` or ``①`` are
    refused, not normalised). What remains is an optional sign, ASCII digits
    with at most one decimal point ``.``, and an optional exponent (``1e3``).
    A comma is only a thousands separator: the digits before the point must
    then be grouped in threes (``1,234,567.89``), the first group without a
    leading zero; any other comma is an error, since ``1000,50`` may mean a
    decimal comma. Spaces and underscores inside a number are errors. A
    trailing ``%`` or unit is read only where the caller allows it.

    Examples
    --------
    >>> to_decimal("1234.50")
    Decimal('1234.50')
    >>> to_decimal(" 1,000,000.00 "), to_decimal("１，２３４．５０"), to_decimal("－５")
    (Decimal('1000000.00'), Decimal('1234.50'), Decimal('-5'))
    >>> to_decimal("3.85%", "annual_rate", percent=True), to_decimal("３．８５％", percent=True)
    (Decimal('0.0385'), Decimal('0.0385'))
    >>> to_decimal("1.5億", "principal", units=True), to_decimal("500萬元", units=True)
    (Decimal('150000000'), Decimal('5000000'))
    >>> to_decimal("1,200万", units=True), to_decimal("88.50元", units=True)
    (Decimal('12000000'), Decimal('88.50'))
    >>> to_decimal("1000,50", "principal")
    Traceback (most recent call last):
    ...
    subsidy_engine.errors.MoneyError: principal: '1000,50': a comma is only a thousands separator (groups of three, as in 1,000,000.00); write the decimal point as '.'
    >>> to_decimal("5%", "principal", units=True)
    Traceback (most recent call last):
    ...
    subsidy_engine.errors.MoneyError: principal: '5%': a percent is not an amount; write the amount in yuan, without '%'
    >>> to_decimal("500萬", "annual_rate", percent=True)
    Traceback (most recent call last):
    ...
    subsidy_engine.errors.MoneyError: annual_rate: '500萬': the units 萬/万, 億/亿 and 元 are for amounts in yuan; write the plain number
    >>> to_decimal("1 000")
    Traceback (most recent call last):
    ...
    subsidy_engine.errors.MoneyError: value: '1 000': a space inside a number is not accepted; write 1000 or 1,000
    >>> to_decimal(0.1)
    Traceback (most recent call last):
    ...
    subsidy_engine.errors.MoneyError: value: floats are not accepted for exact amounts and rates (0.1 is stored as 0.1000000000000000055511151231257827...); pass a str, int or Decimal such as "0.1"
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
    shift = 0
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        result, shift = _parse_text(value, what, percent=percent, units=units)
    else:
        raise MoneyError(
            f"{what}: expected str, int or Decimal, got {type(value).__name__}"
        )
    if not result.is_finite():
        raise MoneyError(f"{what}: {shown(value)} is not a finite number")
    digits = result.adjusted() + 1 + shift
    if result and digits >= MAX_MAGNITUDE_DIGITS:
        raise MoneyError(f"{what}: {shown(value)} has {digits:,} digits before the point; "
                         "no amount or rate comes near")
    return _shifted(result, shift) if shift else result


#: The plain form of a number, ASCII only: what ``Decimal`` and Arrow's
#: string-to-decimal cast both read, to the same value. ``batch`` casts a text
#: column in Arrow only when every cell has this form.
PLAIN_MANTISSA: Final = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
PLAIN_NUMBER: Final = PLAIN_MANTISSA + r"(?:[eE][+-]?[0-9]+)?"
_PLAIN = re.compile(PLAIN_NUMBER)
# thousands separators: groups of three before the point, the first without a leading zero
_GROUPED = re.compile(r"[+-]?[1-9][0-9]{0,2}(?:,[0-9]{3})+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?")
_SPECIAL = re.compile(r"[+-]?(?:s?nan[0-9]*|inf(?:inity)?)", re.IGNORECASE)
_FULL_WIDTH = re.compile("[\u3000\uff01-\uff5e]+")  # NFKC maps each to ASCII
_UNIT_SHIFT: Final = {"萬": 4, "万": 4, "億": 8, "亿": 8}


def ascii_text(text: str) -> str:
    """Full-width characters, as a Chinese input method types them, as their ASCII forms (and the
    ideographic space as a space); nothing else changes (NFKC of the rest would read '1²' as 12).

    >>> ascii_text("２０２６－０３－０１"), ascii_text("３．８５％"), ascii_text("1²")
    ('2026-03-01', '3.85%', '1²')
    """
    if text.isascii():
        return text
    return _FULL_WIDTH.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)


_WHOLE = re.compile(r"([+-]?)([0-9]+)")  # [0-9], not \d: other scripts' digits are not read
#: More digits than this are past every bound a whole-number field has (int64 among them).
_WHOLE_DIGITS: Final = 19


def whole_number(text: str) -> int | None:
    """A whole number typed as text, or None when the text is not one.

    The digit rule of :func:`to_decimal`: spaces around trimmed, full-width forms read as ASCII,
    then an optional sign and ASCII digits only. ``int()`` would also read ``"1_000"`` and other
    scripts' digits (``"١٠"``); they are not a number here. A number of more than 19 digits reads
    as ``±10**19``, beyond every bound a caller checks, without building a huge integer.

    >>> whole_number(" 60 "), whole_number("６０"), whole_number("+7"), whole_number("1_000"), whole_number("١٠")
    (60, 60, 7, None, None)
    """
    found = _WHOLE.fullmatch(ascii_text(text.strip()))
    if found is None:
        return None
    sign, digits = found.groups()
    digits = digits.lstrip("0") or "0"
    number = int(digits) if len(digits) <= _WHOLE_DIGITS else 10**_WHOLE_DIGITS
    return -number if sign == "-" else number


def whole_value(value: object) -> int | None:
    """A cell as a whole number, or None when it is not one: an integer (not a bool), a float or ``Decimal``
    whose value is whole (a Parquet ``decimal(10, 0)``, an integer column with blanks that pandas made
    floats), or text by :func:`whole_number`. Blank cells are None too; callers tell blank apart first.

    >>> whole_value(60), whole_value(60.0), whole_value(Decimal("6E+1")), whole_value(" ６０ ")
    (60, 60, 60, 60)
    >>> whole_value(60.5), whole_value(True), whole_value(Decimal("NaN")), whole_value("60.0")
    (None, None, None, None)
    """
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)  # a float is a whole number exactly only below 2**53 (as a column of floats is read)
        return int(number) if math.isfinite(number) and number.is_integer() and abs(number) < 2**53 else None
    if isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            return None
        return int(value) if value.adjusted() <= _WHOLE_DIGITS else 10**_WHOLE_DIGITS * (-1 if value < 0 else 1)
    if isinstance(value, str):
        return whole_number(value)
    return None


def _parse_text(value: str, what: str, *, percent: bool, units: bool) -> tuple[Decimal, int]:
    """Text -> (its number, the power of ten its % or unit multiplies by); the rule is in ``to_decimal``."""
    text = ascii_text(value).strip()
    body, shift = text, 0
    if body.endswith("%"):
        if not percent:
            how = ("a percent is not an amount; write the amount in yuan, without '%'" if units
                   else "a percent is not accepted here; write the plain number, without '%'")
            raise MoneyError(f"{what}: {shown(value)}: {how}")
        body, shift = body[:-1], -2
    elif body.endswith(("元", *_UNIT_SHIFT)):
        if not units:
            raise MoneyError(f"{what}: {shown(value)}: the units 萬/万, 億/亿 and 元 are for amounts "
                             "in yuan; write the plain number")
        body = body.removesuffix("元")
        if body.endswith(tuple(_UNIT_SHIFT)):
            body, shift = body[:-1], _UNIT_SHIFT[body[-1]]
    if _PLAIN.fullmatch(body) or _GROUPED.fullmatch(body):
        try:
            return Decimal(body.replace(",", "")), shift
        except (InvalidOperation, OverflowError):  # an exponent beyond Decimal's own range ("1e99999999999999999999")
            raise MoneyError(f"{what}: {shown(value)} is far beyond any amount or rate") from None
    if not shift and _SPECIAL.fullmatch(body):
        return Decimal(body), 0  # NaN or infinity: refused as not finite
    if any(c.isspace() for c in body):
        problem = "a space inside a number is not accepted; write 1000 or 1,000"
    elif "_" in body:
        problem = "an underscore is not a digit separator here; write 1000 or 1,000"
    elif "," in body:
        problem = ("a comma is only a thousands separator (groups of three, as in 1,000,000.00); "
                   "write the decimal point as '.'")
    else:
        raise MoneyError(f"{what}: {shown(value)} is not a decimal number")
    raise MoneyError(f"{what}: {shown(value)}: {problem}")


def _shifted(value: Decimal, places: int) -> Decimal:
    # value * 10**places, exactly (Decimal.scaleb rounds to the context's precision); a whole
    # result is written without an exponent, so 1.5億 reads back as 150000000, not 1.5E+8
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    exponent += places
    if exponent > 0 and value:
        digits, exponent = (*digits, *(0,) * exponent), 0
    return Decimal((sign, digits, exponent))


def shown_text(text: str) -> str:
    """``text`` as a message quotes it: whole up to 40 characters, else its start and its length.

    >>> shown_text("x" * 50)
    'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... (50 characters)'
    """
    return text if len(text) <= 40 else f"{text[:30]}... ({len(text):,} characters)"


def shown(value: object) -> str:
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
    subsidy_engine.errors.MoneyError: amount: 0.005 has a fraction of a fen; amounts are exact to 0.01 yuan
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


def round_fen(fen: Fraction) -> int:
    """An exact amount in fen rounded half-up to a whole fen (the rounding of a sum computed exactly).

    >>> round_fen(Fraction(5, 2)), round_fen(Fraction(-5, 2)), round_fen(Fraction(7, 3))
    (3, -3, 2)
    """
    return div_half_up(fen.numerator, fen.denominator)


def bp_to_rate(bp: Decimal) -> Decimal:
    """Basis points as a fraction of one, exactly (100 bp = 0.01).

    >>> bp_to_rate(Decimal("-30"))
    Decimal('-0.0030')
    """
    return bp.scaleb(-BP_DECIMALS)


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
    (docs/conventions.md, "Conservation"). The parts always add up to ``total``.

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
