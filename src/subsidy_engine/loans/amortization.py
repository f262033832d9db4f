"""Runs the amortization kernel over a batch of loans, exactly.

Glue between :mod:`subsidy_engine.loans.arrays` (loans as arrays),
:mod:`subsidy_engine.loans.repricing` (rate segments) and the kernel
(:mod:`subsidy_engine.kernels.amortize`). The rare annuity payment within float
error of a half fen is settled here with exact integers
(:func:`annuity_payment_fen`) and the loan run again with it forced.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from subsidy_engine.core.dates import day_date, epoch_days
from subsidy_engine.core.money import RATE_SCALE, div_half_up, fen_to_yuan
from subsidy_engine.core.vocabulary import BusinessDay
from subsidy_engine.kernels.amortize import amortize_kernel, first_years, lean_kernel, plain_layout
from subsidy_engine.kernels.business_days import adjust_days
from subsidy_engine.kernels.calendar import due_days, due_years, years_of
from subsidy_engine.loans.arrays import LoanArrays, LoanEvents
from subsidy_engine.loans.repricing import rate_segments
from subsidy_engine.params.business_days import BusinessCalendar, china_calendar
from subsidy_engine.params.lpr import LprCurve, LprPaths


@dataclass
class Outputs:
    """Output arrays for one batch, allocated here or views into a caller's arrays."""

    end_day: np.ndarray  # int32 days since 1970-01-01, per row
    segment: np.ndarray  # int32 index into the batch's rate segments, per row
    interest: np.ndarray  # int64 fen per row
    principal: np.ndarray  # int64 fen per row
    year_interest: np.ndarray  # int64 fen per loan-year
    year_principal: np.ndarray
    settles: np.ndarray  # bool per row of a loan settling interest on calendar dates: the row settles it

    @classmethod
    def allocate(cls, rows: int, years: int, settles: bool = False) -> Outputs:
        # np.empty, not np.zeros: the kernel writes every year slot (due dates are at
        # most three months apart, a skipped year is written as zero) and every row slot of a loan
        # but those after it was repaid in full (KernelResult.written says how many; keep_written cuts them),
        # and lazily mapped zero pages fault slowly when chunks fill them. ``settles`` only when a loan settles
        # interest on calendar dates (the kernel writes it for those loans' rows; the others' rows all settle).
        return cls(np.empty(rows, np.int32), np.empty(rows, np.int32), np.empty(rows, np.int64),
                   np.empty(rows, np.int64), np.empty(years, np.int64), np.empty(years, np.int64),
                   np.ones(rows if settles else 0, np.bool_))

    @classmethod
    def within(cls, buffers: Outputs | None, rows: int, years: int, settles: bool = False) -> Outputs:
        """:meth:`allocate`, or the first ``rows`` and ``years`` of ``buffers`` when they hold as many (and settlement
        flags, when asked): a caller pricing a book in batches reuses one set of arrays, whose pages a fresh
        allocation would fault in again for every batch. The flags are set again (every row settles until the
        kernel says otherwise)."""
        if buffers is None or buffers.end_day.shape[0] < rows or buffers.year_interest.shape[0] < years or (
                settles and buffers.settles.shape[0] < rows):
            return cls.allocate(rows, years, settles)
        flags = buffers.settles[:rows] if settles else np.ones(0, np.bool_)
        flags[:] = True
        return cls(buffers.end_day[:rows], buffers.segment[:rows], buffers.interest[:rows], buffers.principal[:rows],
                   buffers.year_interest[:years], buffers.year_principal[:years], flags)

    def view(self, r0: int, r1: int, y0: int, y1: int) -> Outputs:
        """Rows ``r0:r1`` and loan-years ``y0:y1`` of these outputs, as views for a chunk to write into."""
        return Outputs(self.end_day[r0:r1], self.segment[r0:r1], self.interest[r0:r1], self.principal[r0:r1],
                       self.year_interest[y0:y1], self.year_principal[y0:y1],
                       self.settles[r0:r1] if self.settles.shape[0] else self.settles)


@dataclass
class KernelResult:
    """Kernel outputs for a batch. Every loan has its rows and years; those of
    loans that could not be priced (``failed``) are meaningless and dropped."""

    failed: np.ndarray  # bool per loan
    errors: dict[int, str]  # batch position -> reason, for loans that could not be priced
    coverage_errors: set[int]  # the positions in ``errors`` that are beyond the rate data
    projected_from: np.ndarray  # per loan: epoch day of the first projected fixing, or -1
    row_ptr: np.ndarray
    year_ptr: np.ndarray
    first_year: np.ndarray
    segment_rate: np.ndarray  # 1e-10 units per rate segment
    loan_principal_fen: np.ndarray
    loan_opening_fen: np.ndarray  # what each loan owes on its start date (the first tranche)
    out: Outputs
    want_rows: bool
    want_years: bool
    written: np.ndarray  # rows written per loan: its periods, fewer when it was repaid before its term
    years_written: np.ndarray  # per loan priced with yearly totals: its years up to its last row's, fewer than its
    # year_ptr span when it was repaid before its term (the later years are written as zero and not shown:
    # PortfolioResult.yearly); its span without yearly totals, meaningless for a loan that failed
    events: LoanEvents
    exact_fallbacks: int = 0
    calendar: BusinessCalendar | None = None  # the business days due dates were moved on, if a loan moves them
    calendar_projection: str | None = None  # the calendar's projection note, when a moved date relied on it

    def calendar_digests(self) -> tuple[str, ...]:
        """The calendar's digest for a result's provenance, when due dates were moved on one."""
        return () if self.calendar is None else (self.calendar.digest,)

    @property
    def computed(self) -> np.ndarray:
        return np.flatnonzero(~self.failed)

    def keep_written(self) -> KernelResult:
        """This result with the rows of loans repaid before their term cut to the rows they wrote (itself when
        every loan wrote all its periods)."""
        row_ptr, keep = keep_written(self.row_ptr, self.written)
        if keep is None or not self.want_rows:
            return self
        out = Outputs(self.out.end_day[keep], self.out.segment[keep], self.out.interest[keep],
                      self.out.principal[keep], self.out.year_interest, self.out.year_principal,
                      self.out.settles[keep] if self.out.settles.shape[0] else self.out.settles)
        return replace(self, row_ptr=row_ptr, out=out)

    def rate_units(self) -> np.ndarray:
        """The annual rate of every row (1e-10 units)."""
        return self.segment_rate[self.out.segment]

    def opening_fen(self) -> np.ndarray:
        """Opening balance of every row: what was drawn before it less the principal repaid before. Read from
        the rows written: a result with loans repaid before their term is cut first (:meth:`keep_written`)."""
        if self.want_rows and (self.written < np.diff(self.row_ptr)).any():
            raise ValueError("some loans were repaid before their term: cut their rows first (keep_written)")
        return opening_balances(self.loan_opening_fen, self.row_ptr, self.out.principal, self.out.end_day,
                                **event_arrays(self.events))


def opening_balances(loan_opening: np.ndarray, row_ptr: np.ndarray, principal: np.ndarray,
                     end_day: np.ndarray | None = None, event_ptr: np.ndarray | None = None,
                     event_day: np.ndarray | None = None, event_amount: np.ndarray | None = None) -> np.ndarray:
    """Per-row opening balances from per-row principal repayments (rows grouped by loan): the first
    tranche, plus the later ones drawn before the row's start (on or before the end of the row before),
    less the principal repaid before."""
    periods = np.diff(row_ptr)
    repaid_through = np.concatenate([[0], np.cumsum(principal)])  # repaid before row r: [r]
    repaid_before_row = repaid_through[:-1] - np.repeat(repaid_through[row_ptr[:-1]], periods)
    opening = np.repeat(loan_opening, periods) - repaid_before_row
    if event_ptr is not None and event_day is not None and event_amount is not None and end_day is not None \
            and (event_amount > 0).any():
        # A tranche drawn on a row's end date or before it is owed from the next row on. Rows are in loan
        # order and, within a loan, in date order: one search over (loan, day) keys finds every tranche's row.
        drawn = event_amount > 0
        loan_of_tranche = np.repeat(np.arange(event_ptr.shape[0] - 1), np.diff(event_ptr))[drawn]
        row_keys = (np.repeat(np.arange(periods.shape[0], dtype=np.int64), periods) << 32) + end_day
        tranche_keys = (loan_of_tranche.astype(np.int64) << 32) + event_day[drawn]
        rows = np.searchsorted(row_keys, tranche_keys, side="left") + 1
        inside = rows < row_ptr[1:][loan_of_tranche]  # owed from a row the loan has
        drawn_before = np.zeros(opening.shape[0] + 1, np.int64)
        np.add.at(drawn_before, rows[inside], event_amount[drawn][inside])
        through = np.concatenate([[0], np.cumsum(drawn_before[:-1])])  # drawn before row r: [r + 1] - [r0]
        opening += through[1:] - np.repeat(through[row_ptr[:-1]], periods)
    return opening


def keep_written(row_ptr: np.ndarray, written: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The rows to keep of loans that wrote ``written`` of their ``row_ptr`` span (None: all of them) and the
    new pointers."""
    periods = row_ptr[1:] - row_ptr[:-1]
    if (written >= periods).all():
        return row_ptr, None
    offset = np.arange(int(row_ptr[-1])) - np.repeat(row_ptr[:-1], periods)
    return pointers(written), offset < np.repeat(written, periods)


def business_calendar(loans: LoanArrays, calendar: BusinessCalendar | None) -> BusinessCalendar | None:
    """The business-day calendar ``loans`` are amortized on when a loan moves its due dates: ``calendar``, else
    China's (:func:`~subsidy_engine.params.business_days.china_calendar`); None when no loan moves them."""
    if not (loans.business_day != BusinessDay.NONE.code).any():
        return None
    return calendar if calendar is not None else china_calendar()


def _moved(loans: LoanArrays, rules: np.ndarray, months: np.ndarray, calendar: BusinessCalendar | None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Each loan's due date ``months`` after its start month, moved by ``rules``: ``(day numbers, beyond)``,
    ``beyond`` true where the calendar does not cover the move (the day is then left unmoved)."""
    nominal = due_days(loans.start_y, loans.start_m, months, loans.due_day)
    beyond = np.zeros(nominal.shape[0], bool)
    if calendar is None:
        return nominal, beyond
    moved = nominal.copy()
    for rule in (BusinessDay.FOLLOWING, BusinessDay.MODIFIED_FOLLOWING):
        hit = np.flatnonzero(rules == rule.code)
        if hit.size:
            moved[hit], beyond[hit] = adjust_days(nominal[hit], rule.code, epoch_days(calendar.first_day),
                                                  calendar.table, calendar.weekends_beyond)
    beyond |= (rules != BusinessDay.NONE.code) & (loans.start_days() < epoch_days(calendar.first_day))
    moved[beyond] = nominal[beyond]
    return moved, beyond


def _beyond_calendar(loans: LoanArrays, calendar: BusinessCalendar | None) -> np.ndarray:
    """The loans whose due dates ``calendar`` cannot move: one starting before it, or whose last due date,
    moved, is beyond it (an earlier date never moves further)."""
    if calendar is None:
        return np.zeros(len(loans), bool)
    return _moved(loans, loans.business_day, loans.periods * loans.months_per_period, calendar)[1]


def kernel_rules(loans: LoanArrays, calendar: BusinessCalendar | None) -> np.ndarray:
    """Each loan's business-day rule as the kernel applies it: ``none`` for a loan the calendar cannot cover
    (it is refused, and keeps its unmoved dates so that its rows stay inside its own years)."""
    if calendar is None:
        return loans.business_day
    beyond = _beyond_calendar(loans, calendar)
    return np.where(beyond, BusinessDay.NONE.code, loans.business_day) if beyond.any() else loans.business_day


def moved_due_days(loans: LoanArrays, months: np.ndarray, calendar: BusinessCalendar | None,
                   rules: np.ndarray | None = None) -> np.ndarray:
    """Each loan's due date ``months`` after its start month, as the kernel moves it: by ``rules``, the
    :func:`kernel_rules` (found when not given)."""
    return _moved(loans, kernel_rules(loans, calendar) if rules is None else rules, months, calendar)[0]


def calendar_errors(loans: LoanArrays, calendar: BusinessCalendar | None, rules: np.ndarray) -> dict[int, str]:
    """The loans whose due dates ``calendar`` cannot move: those whose rule :func:`kernel_rules` set aside
    (``rules``). Without the weekend projection a later year's arrangement is not known: such a loan is
    refused, never moved on a weekend-only guess."""
    if calendar is None:
        return {}
    months = loans.periods * loans.months_per_period
    beyond = rules != loans.business_day
    errors = {}
    for j in np.flatnonzero(beyond):
        start = day_date(int(loans.start_days()[j]))
        if start < calendar.first_day:
            errors[int(j)] = (f"business_day: the loan starts on {start}, before the business-day calendar "
                              f"{calendar.name}, which covers from {calendar.first_day}")
        else:
            last = day_date(int(due_days(loans.start_y[j:j + 1], loans.start_m[j:j + 1], months[j:j + 1],
                                         loans.due_day[j:j + 1])[0]))
            errors[int(j)] = (f"business_day: the last due date {last} is beyond the business-day calendar "
                              f"{calendar.name}, whose last covered day is {calendar.last_day}: the official "
                              "arrangement of later years is not published. To take later days as Monday to "
                              "Friday business days with no holidays, pass calendar.with_weekend_projection(), "
                              "which results report")
    return errors


def first_due_year(loans: LoanArrays, calendar: BusinessCalendar | None = None,
                   rules: np.ndarray | None = None) -> np.ndarray:
    """The year of each loan's first due date (moved to a business day on ``calendar`` by ``rules``,
    :func:`kernel_rules`)."""
    if calendar is None or not (loans.business_day != BusinessDay.NONE.code).any():
        return due_years(loans.start_y, loans.start_m, loans.months_per_period)
    rules = kernel_rules(loans, calendar) if rules is None else rules
    return years_of(moved_due_days(loans, loans.months_per_period, calendar, rules))


#: read-only like every calendar's table, so that the kernels are compiled for one kind of array
_NO_CALENDAR = np.zeros(0, np.uint8)
_NO_CALENDAR.flags.writeable = False


def calendar_arrays(calendar: BusinessCalendar | None) -> tuple[int, np.ndarray, bool]:
    """``(first day, table, weekends beyond)``: the calendar as the kernels read it (an empty one for None,
    which only loans that move no date may meet)."""
    if calendar is None:
        return 0, _NO_CALENDAR, False
    return epoch_days(calendar.first_day), calendar.table, calendar.weekends_beyond


def row_capacity(loans: LoanArrays) -> np.ndarray:
    """The rows each loan may write: its periods (those asked for, ``stop_period``, of a loan the lean loop prices),
    and one a calendar settlement before its last due date (at most one a settlement month of its term, and one
    more for a first settlement before a month's due day)."""
    if loans.stop_period is not None:  # the lean loop writes no more than asked; the other loops to the term
        lean = ((loans.interest_months == 0) & (loans.business_day == BusinessDay.NONE.code)
                & (np.diff(loans.events_csr().ptr) == 0))
        return np.where(lean, np.minimum(loans.periods, np.maximum(loans.stop_period, 1)), row_capacity(
            replace(loans, stop_period=None)))
    if not loans.interest_months.any():
        return loans.periods
    settlements = np.where(loans.interest_months > 0,
                           loans.periods * loans.months_per_period // np.maximum(loans.interest_months, 1) + 1, 0)
    return loans.periods + settlements


def periods_through(loans: LoanArrays, day: np.ndarray) -> np.ndarray:
    """Per loan, a number of its first periods that reaches at least one period past its first nominal due date on
    or after ``day`` (days since 1970-01-01; the largest int64: the whole term), counted in whole months: every
    period that starts before ``day`` is among them, a due date moved a few days by a business-day rule too. What
    Monte Carlo asks the lean loop for (``stop_period``).

    >>> from datetime import date
    >>> from subsidy_engine.loans.arrays import arrays_from_loans
    >>> from subsidy_engine.loans.contract import Loan
    >>> loans = arrays_from_loans([Loan(principal="100", annual_rate="0.04", term_months=60,
    ...                                 start_date=date(2024, 3, 15))])
    >>> periods_through(loans, np.array([epoch_days(date(2026, 3, 15))])).tolist()  # due 2026-03-15: period 24
    [26]
    """
    day = np.asarray(day, np.int64)
    open_ended = no_end(day)
    month = np.where(open_ended, 0, day).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return periods_through_month(loans, month + 1970 * 12, open_ended)


def no_end(day: np.ndarray) -> np.ndarray:
    """Whether each day is no end at all: an open 貼息 window ends on the largest day (any day this far is none)."""
    return np.asarray(day) >= np.iinfo(np.int64).max // 2


def periods_through_month(loans: LoanArrays, month: np.ndarray, open_ended: np.ndarray) -> np.ndarray:
    """:func:`periods_through` a day of ``month`` (a month's number, ``year * 12 + month - 1``), or the whole term
    where ``open_ended``."""
    months = month - (loans.start_y * 12 + loans.start_m - 1)
    count = -(-np.maximum(months, 0) // loans.months_per_period) + 2
    return np.where(open_ended, loans.periods, np.clip(count, 1, loans.periods)).astype(np.int64)


def first_year(loans: LoanArrays, calendar: BusinessCalendar | None = None,
               rules: np.ndarray | None = None) -> np.ndarray:
    """The first calendar year of each loan's rows: its first due date's (moved to a business day on
    ``calendar`` by ``rules``), or its first calendar settlement's or its first prepayment's when that is earlier
    (a prepayment of the whole balance ends the loan, and its last period, on its day)."""
    if rules is None:  # as the kernel moves them: a loan the calendar cannot cover keeps its dates
        rules = loans.business_day if calendar is None else kernel_rules(loans, calendar)
    first = np.array(first_due_year(loans, calendar, rules), np.int64)  # a copy: filled in place
    # a prepayment is an event: loans without events (loans.events None) have none to look for
    if len(loans) and (loans.interest_months.any() or (loans.events is not None and (loans.events.amount < 0).any())):
        events = loans.events_csr()
        cal_first, cal_table, cal_weekends = calendar_arrays(calendar)
        first_years(loans.start_y, loans.start_m, loans.start_d, loans.interest_months, loans.interest_day, rules,
                    cal_first, cal_table, cal_weekends, events.ptr, events.day, events.amount, first)
    return first


def year_counts(loans: LoanArrays, first: np.ndarray | None = None,
                calendar: BusinessCalendar | None = None, rules: np.ndarray | None = None) -> np.ndarray:
    """Calendar years from the first row's (:func:`first_year`, or ``first``) to the last due date (moved to a
    business day on ``calendar`` by ``rules``, :func:`kernel_rules`), per loan."""
    months = loans.periods * loans.months_per_period
    if calendar is None or not (loans.business_day != BusinessDay.NONE.code).any():
        last_year = due_years(loans.start_y, loans.start_m, months)
    else:
        rules = kernel_rules(loans, calendar) if rules is None else rules
        last_year = years_of(moved_due_days(loans, months, calendar, rules))
    return last_year - (first_year(loans, calendar, rules) if first is None else first) + 1


def schedule_arrays(loans: LoanArrays, out: Outputs, segment_rate: np.ndarray) -> dict[str, np.ndarray]:
    """The per-period schedule of ``loans`` with the loan attributes the 貼息 kernel reads, in fen."""
    settles = {"settles": out.settles} if out.settles.shape[0] else {}
    return {"end_day": out.end_day, "segment": out.segment, "interest": out.interest, "principal": out.principal,
            **settles, "loan_interest_months": loans.interest_months,
            "loan_principal": loans.principal_fen, "loan_opening": loans.first_drawdown_fen(), "loan_basis": loans.basis,
            "loan_due_day": loans.due_day,
            "loan_start_day": loans.start_days().astype(np.int32), "segment_rate": segment_rate,
            **event_arrays(loans.events_csr())}


def event_arrays(events: LoanEvents) -> dict[str, np.ndarray]:
    """The drawdowns and prepayments as the 貼息 kernel reads them."""
    return {"event_ptr": events.ptr, "event_day": events.day, "event_amount": events.amount}


def row_spans(end_day: np.ndarray, row_ptr: np.ndarray, first_day: np.ndarray,
              settling: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each schedule row's first day of interest and its days: from the previous row's date (the loan's start,
    ``first_day[j]``, for loan ``j``'s first row, its rows ``row_ptr[j]:row_ptr[j + 1]``) to its own. A row
    that settles interest on a calendar date (``settling``) settles its own date too (docs/conventions.md
    "Calendar settlement"): it counts one day more, and the row after it starts the day after."""
    start = np.empty_like(end_day)
    start[1:] = end_day[:-1]
    firsts = row_ptr[:-1][row_ptr[1:] > row_ptr[:-1]]
    start[firsts] = first_day[row_ptr[1:] > row_ptr[:-1]]
    if settling is None or not settling.any():
        return start, end_day - start
    after = np.zeros(end_day.shape[0], np.bool_)
    after[1:] = settling[:-1]
    after[firsts] = False
    start = start + after
    return start, end_day - start + settling


def pointers(counts: np.ndarray) -> np.ndarray:
    """CSR offsets from counts."""
    ptr = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    counts.cumsum(out=ptr[1:])  # the method, not np.cumsum: its wrapper is most of the cost at a quote's one loan
    return ptr


def payment_slots(loans: LoanArrays, segment_ptr: np.ndarray) -> np.ndarray:
    """CSR offsets of each loan's payment computations: one where amortization starts and at each rate
    change (one per rate segment), and at most one after each event (docs/conventions.md)."""
    if loans.events is None:
        return segment_ptr
    slots = segment_ptr + loans.events.ptr  # the two counts' running sums, added: one array, not five
    slots -= slots[0]
    return slots


def _event_message(loans: LoanArrays, j: int, event: int, balance: int) -> str:
    events = loans.events_csr()
    index, day = int(events.index[event]), day_date(int(events.day[event]))
    amount = fen_to_yuan(abs(int(events.amount[event])))
    name = f"drawdowns[{index}]" if index > 0 else f"prepayments[{-index - 1}]"
    if balance == 0:
        return f"{name}: {amount} on {day} comes after the loan was repaid in full"
    return f"{name}: {amount} on {day} is more than the balance then ({fen_to_yuan(balance)})"


def run(loans: LoanArrays, curve: LprCurve | LprPaths | None, *, rows: bool, years: bool,
        out: Outputs | None = None, general: bool = False, calendar: BusinessCalendar | None = None
        ) -> KernelResult:
    """Price and amortize ``loans``.

    Loans that cannot be priced (rate data missing or negative, a prepayment above the balance, due dates
    to move beyond the business-day ``calendar``: China's by default, :func:`business_calendar`) are
    reported in ``errors`` and run at a zero rate, their dates unmoved, so that every loan keeps its place in
    the outputs; callers drop them. ``out`` lets a caller have the kernel write
    straight into its own arrays (every year slot is written, every row slot but those after a loan was
    repaid in full: it writes its first ``written`` rows, :func:`keep_written`). ``general`` runs loans
    without events through the kernel's loop of every loan instead of its lean one (for the tests).
    """
    if general and loans.stop_period is not None:
        raise ValueError("the loop of every loan prices loans to their term: it takes no stop_period")
    segments = rate_segments(loans, curve)
    failed = np.not_equal(segments.error, None)  # type: ignore[call-overload]  # numpy stubs: a ufunc refuses None (an object scalar)
    errors = {int(k): str(segments.error[k]) for k in np.flatnonzero(failed)} if failed.any() else {}
    coverage_errors = {k for k in errors if segments.beyond_coverage[k]}
    calendar = business_calendar(loans, calendar)
    # the kernel moves due dates on the calendar's table; a loan it does not cover keeps its dates (and fails)
    business_day = kernel_rules(loans, calendar)
    beyond_calendar = calendar_errors(loans, calendar, business_day)
    for loan_index, reason in beyond_calendar.items():
        if not failed[loan_index]:
            errors[loan_index] = reason
            coverage_errors.add(loan_index)
            failed[loan_index] = True
    if errors:
        segments.rate_units[np.repeat(failed, np.diff(segments.ptr))] = 0
    count = len(loans)
    on_calendar = bool((loans.interest_months > 0).any())
    if calendar is None and loans.events is None and loans.stop_period is None and not on_calendar:
        # priced to their term, no date moved, no settlement on a calendar day, no tranche or prepayment: the
        # layout in one pass (tests/loans/test_layout.py holds it to the three calls below)
        loan_first_year, row_ptr, year_ptr = plain_layout(loans.start_y, loans.start_m, loans.months_per_period,
                                                          loans.periods)
    else:
        loan_first_year = first_year(loans, calendar, business_day)
        row_ptr = pointers(row_capacity(loans))
        year_ptr = pointers(year_counts(loans, loan_first_year, calendar, business_day))
    cal_first, cal_table, cal_weekends = calendar_arrays(calendar)
    if out is None:
        out = Outputs.allocate(int(row_ptr[-1]) if rows else 0, int(year_ptr[-1]) if years else 0,
                               settles=rows and on_calendar)
    # per loan: the payment slot, rate segment, balance and periods left of its first payment the float could
    # not settle; an event that cannot happen and the balance then; the rows written
    ambiguous = np.full((count, 4), -1, dtype=np.int64)
    failure = np.full((count, 2), -1, dtype=np.int64)
    written = np.empty(count, np.int64)
    years_written = year_ptr[1:] - year_ptr[:-1]  # the kernel writes those of the loans that may be repaid before their term
    slot_ptr = payment_slots(loans, segments.ptr)
    forced = np.zeros(0, np.int64)  # no payment settled yet: the kernel computes each (below, when it cannot)
    events = loans.events_csr()
    opening = loans.first_drawdown_fen()

    def kernel(subset: LoanArrays, sub_business_day, sub_opening, sub_seg_ptr, sub_seg, sub_slot_ptr, sub_forced,
               sub_events, sub_row_ptr, sub_year_ptr, sub_first_year, sub_out: Outputs, sub_ambiguous, sub_failure,
               sub_written, sub_years_written) -> None:
        sub_plan_ptr, sub_plan_fen = subset.plan_csr()
        # a batch whose loans all run the lean loop has a kernel that compiles that loop alone; a subset of a batch
        # without calendar settlements or a calendar (none moves a date) has none either: not asked of each subset
        lean = not general and not sub_events.day.shape[0] \
            and not (on_calendar and (subset.interest_months > 0).any()) \
            and not (calendar is not None and (sub_business_day != BusinessDay.NONE.code).any())
        (lean_kernel if lean else amortize_kernel)(
            (sub_opening, subset.periods, subset.months_per_period, subset.method, subset.grace, subset.basis,
             subset.start_y, subset.start_m, subset.start_d, subset.due_day, sub_first_year,
             subset.periods if subset.stop_period is None else subset.stop_period),
            (sub_business_day, cal_first, cal_table, cal_weekends, subset.interest_months, subset.interest_day),
            (sub_seg_ptr, segments.first_period[sub_seg], segments.rate_units[sub_seg], sub_plan_ptr, sub_plan_fen,
             sub_slot_ptr, sub_forced),
            (sub_events.ptr, sub_events.day, sub_events.amount, sub_events.recompute),
            (rows, sub_row_ptr, sub_out.end_day, sub_out.segment, sub_out.interest, sub_out.principal,
             sub_out.settles),
            (years, sub_year_ptr, sub_out.year_interest, sub_out.year_principal),
            (sub_ambiguous, sub_failure, sub_written, sub_years_written), general)

    if count:
        kernel(loans, business_day, opening, segments.ptr, slice(None), slot_ptr, forced, events, row_ptr, year_ptr,
               loan_first_year, out, ambiguous, failure, written, years_written)
    if errors:  # a loan that failed runs at a zero rate: no payment of it to settle
        ambiguous[failed, 0] = -1

    # A payment within float error of a half fen is settled with exact integers and the loan runs again
    # with it forced; a later payment of the loan (after a rate reset or a prepayment) may need the same, so
    # repeat until every payment of every flagged loan is settled (each round settles at least one more).
    pending = (ambiguous[:, 0] >= 0).nonzero()[0]
    exact_fallbacks = int(pending.size)
    if pending.size:
        forced = np.full(int(slot_ptr[-1]), -1, dtype=np.int64)  # by payment slot: -1 until settled
    while pending.size:
        for j in pending:
            slot, seg, balance, left = (int(v) for v in ambiguous[j])
            forced[slot] = annuity_payment_fen(balance, int(segments.rate_units[seg]),
                                               12 // int(loans.months_per_period[j]), left)
        sub = loans.take(pending)
        sub_seg_ptr = pointers(segments.ptr[pending + 1] - segments.ptr[pending])
        seg_index = spans(segments.ptr, pending)
        sub_slot_ptr = pointers(slot_ptr[pending + 1] - slot_ptr[pending])
        slot_index = spans(slot_ptr, pending)
        sub_row_ptr = pointers(row_capacity(sub)) if rows else np.zeros(pending.size + 1, np.int64)
        sub_year_ptr = pointers(year_ptr[pending + 1] - year_ptr[pending])
        sub_out = Outputs.allocate(int(sub_row_ptr[-1]) if rows else 0, int(sub_year_ptr[-1]) if years else 0,
                                   settles=rows and on_calendar)
        again = np.full((pending.size, 4), -1, dtype=np.int64)
        sub_failure = np.full((pending.size, 2), -1, dtype=np.int64)
        sub_written = np.empty(pending.size, np.int64)
        sub_years_written = np.diff(sub_year_ptr)
        kernel(sub, business_day[pending], opening[pending], sub_seg_ptr, seg_index, sub_slot_ptr, forced[slot_index],
               sub.events_csr(), sub_row_ptr, sub_year_ptr, loan_first_year[pending], sub_out, again, sub_failure,
               sub_written, sub_years_written)
        for k, j in enumerate(pending):
            if rows:  # the rows the re-run wrote (a calendar loan may write fewer than its capacity)
                lo, hi, s_lo = row_ptr[j], row_ptr[j] + sub_written[k], sub_row_ptr[k]
                for name in ("end_day", "interest", "principal") + (("settles",) if on_calendar else ()):
                    getattr(out, name)[lo:hi] = getattr(sub_out, name)[s_lo:s_lo + hi - lo]
                # the re-run numbers rate segments in its own batch: back to this batch's
                out.segment[lo:hi] = seg_index[sub_out.segment[s_lo:s_lo + hi - lo]]
            if years:
                lo, hi, s_lo = year_ptr[j], year_ptr[j + 1], sub_year_ptr[k]
                out.year_interest[lo:hi] = sub_out.year_interest[s_lo:s_lo + hi - lo]
                out.year_principal[lo:hi] = sub_out.year_principal[s_lo:s_lo + hi - lo]
        failure[pending], written[pending], years_written[pending] = sub_failure, sub_written, sub_years_written
        flagged = again[:, 0] >= 0
        again[flagged, 0] = slot_index[again[flagged, 0]]
        again[flagged, 1] = seg_index[again[flagged, 1]]
        ambiguous[pending] = again
        pending = pending[flagged]

    if loans.events is not None:  # only a loan with events can fail one
        for j in np.flatnonzero((failure[:, 0] >= 0) & ~failed):
            errors[int(j)] = _event_message(loans, int(j), int(failure[j, 0]), int(failure[j, 1]))
        failed |= failure[:, 0] >= 0

    return KernelResult(
        failed=failed, errors=errors, coverage_errors=coverage_errors,
        projected_from=segments.projected_from, row_ptr=row_ptr, year_ptr=year_ptr,
        first_year=loan_first_year, segment_rate=segments.rate_units,
        loan_principal_fen=loans.principal_fen, loan_opening_fen=opening, out=out, want_rows=rows,
        want_years=years, written=written, years_written=years_written, events=events,
        exact_fallbacks=exact_fallbacks,
        calendar=calendar, calendar_projection=projection_note(loans, calendar, failed, business_day),
    )


def projection_note(loans: LoanArrays, calendar: BusinessCalendar | None, failed: np.ndarray,
                    rules: np.ndarray) -> str | None:
    """The calendar's projection note when a priced loan moves a due date past the calendar's data (on the
    weekend projection), else None."""
    if calendar is None or not calendar.weekends_beyond:
        return None
    moving = (loans.business_day != BusinessDay.NONE.code) & ~failed
    if not moving.any():
        return None
    last = moved_due_days(loans, loans.periods * loans.months_per_period, calendar, rules)
    return calendar.projection_note() if (last[moving] > epoch_days(calendar.last_day)).any() else None


def spans(ptr: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The positions ``ptr[j]:ptr[j + 1]`` of every ``j`` in ``index``, concatenated."""
    counts = ptr[index + 1] - ptr[index]
    starts = np.repeat(ptr[index] - pointers(counts)[:-1], counts)
    return (starts + np.arange(int(counts.sum()))).astype(np.int64)


__all__ = ["KernelResult", "annuity_payment_fen", "run", "schedule_arrays", "year_counts"]


def annuity_payment_fen(balance_fen: int, rate_units: int, periods_per_year: int, periods: int) -> int:
    """The level payment that repays ``balance_fen`` over ``periods``, rounded half-up to the fen, exactly.

    Parameters
    ----------
    balance_fen : int
        The balance to repay, in fen.
    rate_units : int
        The annual rate in units of 1e-10 (0.0435 is 435,000,000).
    periods_per_year : int
        12 (monthly) or 4 (quarterly).
    periods : int
        The periods left, at least 1.

    Returns
    -------
    int
        The payment in fen (*payment rounding*, half-up).

    Notes
    -----
    With the periodic rate ``i = r / D`` (``D = 1e10 x periods per year``) the payment is
    ``M = B i (1+i)^m / ((1+i)^m - 1)``, which is the rational number
    ``B r (D+r)^m / (D ((D+r)^m - D^m))``: integers hold it exactly, so a half-fen tie is told
    as it is (a float, or a Decimal of any fixed precision, may not). At a zero rate the
    payment is ``B / m``, rounded the same way. The kernel computes the payment in float64
    and calls this only for the rare payment within float error of a half fen.

    Examples
    --------
    1,000,000.00 yuan at 4.35% over 120 months:

    >>> annuity_payment_fen(100_000_000, 435_000_000, 12, 120)
    1029169
    >>> annuity_payment_fen(10_001, 0, 12, 3)
    3334
    """
    if rate_units == 0:
        return div_half_up(balance_fen, periods)
    scale = RATE_SCALE * periods_per_year
    grown = (scale + rate_units) ** periods
    return div_half_up(balance_fen * rate_units * grown, scale * (grown - scale**periods))
