"""China's business-day calendar (issue 18): the official arrangements, the kernel's rule against a plain loop over
chinese-calendar on every day of the coverage, the coverage horizon and the weekend projection."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import numpy as np
import pytest

from subsidy_engine.core.dates import day_date, epoch_days
from subsidy_engine.core.vocabulary import BusinessDay
from subsidy_engine.errors import CoverageError
from subsidy_engine.kernels.business_days import adjust_day, weekday
from subsidy_engine.params.business_days import BusinessCalendar, china_calendar

RULES = ("none", "following", "modified_following")


@pytest.fixture(scope="module")
def china() -> BusinessCalendar:
    return china_calendar()


def test_the_coverage_is_the_whole_years_of_the_data(china: BusinessCalendar) -> None:
    assert (china.first_day, china.last_day) == (date(2004, 1, 1), date(2026, 12, 31))
    assert china.name == "China, chinese-calendar 1.11.0"
    assert china.table.dtype == np.uint8 and china.table.shape == ((china.last_day - china.first_day).days + 1,)
    assert not china.table.flags.writeable
    assert china_calendar() is china  # built once
    # the package itself knows nothing outside it
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2003, 12, 31))


# -- the official arrangements -------------------------------------------------------------------------------------
def test_spring_festival_2025(china: BusinessCalendar) -> None:
    # 国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号): 1月28日至2月4日放假调休，共8天；
    # 1月26日（周日）、2月8日（周六）上班
    off = [date(2025, 1, 28) + timedelta(days=k) for k in range(8)]
    assert off[-1] == date(2025, 2, 4)
    assert not any(china.is_business_day(d) for d in off)
    assert china.is_business_day(date(2025, 1, 26)) and date(2025, 1, 26).weekday() == 6
    assert china.is_business_day(date(2025, 2, 8)) and date(2025, 2, 8).weekday() == 5
    assert china.is_business_day(date(2025, 1, 27)) and china.is_business_day(date(2025, 2, 5))
    assert not china.is_business_day(date(2025, 2, 9))  # the Sunday after is a weekend again
    assert china.adjust(date(2025, 1, 28), "following") == date(2025, 2, 5)
    assert china.adjust(date(2025, 2, 3), BusinessDay.MODIFIED_FOLLOWING) == date(2025, 2, 5)
    # Friday 31 January: the following day is in February, so modified following goes back to Monday the 27th
    assert china.adjust(date(2025, 1, 31), "following") == date(2025, 2, 5)
    assert china.adjust(date(2025, 1, 31), "modified_following") == date(2025, 1, 27)
    assert china.adjust(date(2025, 1, 26), "following") == date(2025, 1, 26)  # a working Sunday stands
    assert china.adjust(date(2025, 1, 31), "none") == date(2025, 1, 31)


def test_dragon_boat_2025(china: BusinessCalendar) -> None:
    # 国办发明电〔2024〕12号: 端午节 5月31日至6月2日放假，共3天
    assert [china.is_business_day(date(2025, 5, 30) + timedelta(days=k)) for k in range(5)] == [
        True, False, False, False, True]
    assert china.adjust(date(2025, 5, 31), "following") == date(2025, 6, 3)
    assert china.adjust(date(2025, 5, 31), "modified_following") == date(2025, 5, 30)  # June is another month
    assert china.adjust(date(2025, 6, 1), "modified_following") == date(2025, 6, 3)  # inside June: forward
    assert china.adjust(date(2025, 6, 2), "following") == date(2025, 6, 3)


def test_spring_festival_2026(china: BusinessCalendar) -> None:
    # 国务院办公厅关于2026年部分节假日安排的通知 (国办发明电〔2025〕7号): 2月15日至23日放假调休，共9天；
    # 2月14日（周六）、2月28日（周六）上班 (as chinese-calendar 1.11.0 has it)
    off = [date(2026, 2, 15) + timedelta(days=k) for k in range(9)]
    assert off[-1] == date(2026, 2, 23)
    assert not any(china.is_business_day(d) for d in off)
    for saturday in (date(2026, 2, 14), date(2026, 2, 28)):
        assert saturday.weekday() == 5 and china.is_business_day(saturday)
        assert china.adjust(saturday, "modified_following") == saturday
    assert china.adjust(date(2026, 2, 15), "following") == date(2026, 2, 24)
    assert china.adjust(date(2026, 2, 21), "modified_following") == date(2026, 2, 24)
    assert not china.is_business_day(date(2026, 3, 1))  # the Sunday after the working Saturday
    assert china.adjust(date(2026, 3, 1), "modified_following") == date(2026, 3, 2)
    # New Year 2026 in the same notice: 1月1日至3日放假调休，1月4日（周日）上班
    assert china.adjust(date(2026, 1, 1), "following") == date(2026, 1, 4)


def test_national_day_2024(china: BusinessCalendar) -> None:
    # 国务院办公厅关于2024年部分节假日安排的通知 (国办发明电〔2023〕7号): 国庆节 10月1日至7日放假调休，共7天；
    # 9月29日（周日）、10月12日（周六）上班
    assert not any(china.is_business_day(date(2024, 10, day)) for day in range(1, 8))
    assert china.is_business_day(date(2024, 9, 29)) and date(2024, 9, 29).weekday() == 6
    assert china.is_business_day(date(2024, 10, 12)) and date(2024, 10, 12).weekday() == 5
    assert china.adjust(date(2024, 10, 1), "following") == date(2024, 10, 8)
    assert china.adjust(date(2024, 10, 1), "modified_following") == date(2024, 10, 8)
    assert china.adjust(date(2024, 10, 12), "following") == date(2024, 10, 12)
    assert china.adjust(date(2024, 10, 13), "following") == date(2024, 10, 14)


def test_modified_following_goes_back_to_a_working_weekend_day(china: BusinessCalendar) -> None:
    # 国务院办公厅关于2022年部分节假日安排的通知 (国办发明电〔2021〕11号): 春节 1月31日至2月6日放假调休，共7天；
    # 1月29日（星期六）、1月30日（星期日）上班. Monday 31 January is the holiday run's first day and the month's last:
    # following reaches 7 February, so modified following goes back, to the working Sunday before it
    assert china.adjust(date(2022, 1, 31), "following") == date(2022, 2, 7)
    assert china.adjust(date(2022, 1, 31), "modified_following") == date(2022, 1, 30)
    assert date(2022, 1, 30).weekday() == 6


# -- every day of the coverage against a plain loop over chinese-calendar ------------------------------------------
#: A day the State Council's notice makes a working day and chinese-calendar 1.11.0 leaves a day off (below).
WORKED_SATURDAY_2005 = date(2005, 12, 31)


def official_workday(d: date) -> bool:
    """``chinese_calendar.is_workday`` with the one day its data has wrong (the test below cites the notice)."""
    return d == WORKED_SATURDAY_2005 or chinese_calendar.is_workday(d)


def plain_adjust(d: date, rule: str) -> date:
    """The rule written out over the official workdays (:func:`official_workday`), independently of the engine."""
    if rule == "none":
        return d
    later = d
    while not official_workday(later):
        later += timedelta(days=1)
    if rule == "following" or later.month == d.month:
        return later
    earlier = d
    while not official_workday(earlier):
        earlier -= timedelta(days=1)
    return earlier


def test_the_saturday_worked_before_the_2006_new_year_holiday_is_a_business_day(china: BusinessCalendar) -> None:
    # 国务院办公厅关于2006年部分节假日安排的通知 (www.gov.cn/jrzg/2005-12/22/content_133837.htm): "元旦：1月1日—3日
    # 放假，共3天。其中1月1日为法定假日，将12月31日(星期六)、1月1日(星期日)两个公休日调至1月2日(星期一)、3日(星期二)，
    # 12月31日(星期六)上班。" chinese-calendar 1.11.0 quotes the notice for 2006 and leaves 31 December 2005 a day off
    # (its tracker's issue 125); a due date that Saturday stays on it, one on the 1st moves to the 4th.
    assert WORKED_SATURDAY_2005.weekday() == 5 and not chinese_calendar.is_workday(WORKED_SATURDAY_2005)
    assert china.is_business_day(WORKED_SATURDAY_2005)
    assert china.adjust(WORKED_SATURDAY_2005, "following") == WORKED_SATURDAY_2005
    assert china.adjust(date(2005, 12, 30), "following") == date(2005, 12, 30)
    assert [china.is_business_day(date(2006, 1, d)) for d in (1, 2, 3, 4)] == [False, False, False, True]
    assert china.adjust(date(2006, 1, 1), "following") == date(2006, 1, 4)


# QuantLib's test suite (github.com/lballabio/QuantLib, test-suite/calendars.cpp, testChinaSSE and testChinaIB, as of
# commit c64b8cee): the Shanghai Stock Exchange's weekday closures and the inter-bank market's working weekends,
# 2014-2026, as month and day. The banks' calendar is the inter-bank one: a weekday is a business day unless the
# exchange closed it, and a weekend day only when listed, with one exception QuantLib's China calendar names: 9
# February 2024, the eve of the Spring Festival, the exchange closed and the State Council's arrangement kept a
# working day.
QUANTLIB_SSE_WEEKDAY_CLOSURES = {
    2014: "0101 0131 0203 0204 0205 0206 0407 0501 0502 0602 0908 1001 1002 1003 1006 1007",
    2015: "0101 0102 0218 0219 0220 0223 0224 0406 0501 0622 0903 0904 1001 1002 1005 1006 1007",
    2016: "0101 0208 0209 0210 0211 0212 0404 0502 0609 0610 0915 0916 1003 1004 1005 1006 1007",
    2017: "0102 0127 0130 0131 0201 0202 0403 0404 0501 0529 0530 1002 1003 1004 1005 1006",
    2018: "0101 0215 0216 0219 0220 0221 0405 0406 0430 0501 0618 0924 1001 1002 1003 1004 1005 1231",
    2019: "0101 0204 0205 0206 0207 0208 0405 0501 0502 0503 0607 0913 1001 1002 1003 1004 1007",
    2020: "0101 0124 0127 0128 0129 0130 0131 0406 0501 0504 0505 0625 0626 1001 1002 1005 1006 1007 1008",
    2021: "0101 0211 0212 0215 0216 0217 0405 0503 0504 0505 0614 0920 0921 1001 1004 1005 1006 1007",
    2022: "0103 0131 0201 0202 0203 0204 0404 0405 0502 0503 0504 0603 0912 1003 1004 1005 1006 1007",
    2023: "0102 0123 0124 0125 0126 0127 0405 0501 0502 0503 0622 0623 0929 1002 1003 1004 1005 1006",
    2024: "0101 0209 0212 0213 0214 0215 0216 0404 0405 0501 0502 0503 0610 0916 0917 1001 1002 1003 1004 1007",
    2025: "0101 0128 0129 0130 0131 0203 0204 0404 0501 0502 0505 0602 1001 1002 1003 1006 1007 1008",
    2026: "0101 0102 0216 0217 0218 0219 0220 0223 0406 0501 0504 0505 0619 0925 1001 1002 1005 1006 1007",
}
QUANTLIB_IB_WORKING_WEEKENDS = {
    2014: "0126 0208 0504 0928 1011",
    2015: "0104 0215 0228 0906 1010",
    2016: "0206 0214 0612 0918 1008 1009",
    2017: "0122 0204 0401 0527 0930",
    2018: "0211 0224 0408 0428 0929 0930 1229",
    2019: "0202 0203 0428 0505 0929 1012",
    2020: "0119 0426 0509 0628 0927 1010",
    2021: "0207 0220 0425 0508 0918 0926 1009",
    2022: "0129 0130 0402 0424 0507 1008 1009",
    2023: "0128 0129 0423 0506 0625 1007 1008",
    2024: "0204 0218 0407 0428 0511 0914 0929 1012",
    2025: "0126 0208 0427 0928 1011",
    2026: "0104 0214 0228 0509 0920 1010",
}


def _listed(by_year: dict[int, str]) -> set[date]:
    return {date(year, int(day[:2]), int(day[2:])) for year, days in by_year.items() for day in days.split()}


def test_every_day_of_2014_to_2026_is_quantlib_s_published_china_calendar(china: BusinessCalendar) -> None:
    closed, working_weekends = _listed(QUANTLIB_SSE_WEEKDAY_CLOSURES), _listed(QUANTLIB_IB_WORKING_WEEKENDS)
    assert len(closed) == 231 and len(working_weekends) == 80
    assert all(d.weekday() < 5 for d in closed) and all(d.weekday() >= 5 for d in working_weekends)
    day, expected, got = date(2014, 1, 1), [], []
    while day <= date(2026, 12, 31):
        inter_bank = day in working_weekends if day.weekday() >= 5 else day not in closed
        expected.append((day, inter_bank or day == date(2024, 2, 9)))
        got.append((day, china.is_business_day(day)))
        day += timedelta(days=1)
    assert got == expected


@pytest.mark.parametrize("rule", RULES)
def test_every_day_of_the_coverage_equals_the_plain_loop(china: BusinessCalendar, rule: str) -> None:
    dates = [china.first_day + timedelta(days=k) for k in range((china.last_day - china.first_day).days + 1)]
    assert len(dates) == 8401  # 23 years, 6 of them leap years
    expected = [plain_adjust(d, rule) for d in dates]
    days = np.array([epoch_days(d) for d in dates], dtype=np.int64)
    adjusted = [day_date(day) for day in china.adjust_days(days, rule)]
    mismatches = [(d, a, e) for d, a, e in zip(dates, adjusted, expected) if a != e]
    assert not mismatches, mismatches[:5]
    assert [china.adjust(d, rule) for d in dates] == expected
    if rule != "none":
        assert sum(a != d for d, a in zip(dates, adjusted)) > 23 * 104  # every weekend and holiday moved
    assert [china.is_business_day(d) for d in dates] == [official_workday(d) for d in dates]


# -- the coverage horizon and the weekend projection ---------------------------------------------------------------
@pytest.mark.parametrize("rule", ["following", "modified_following"])
def test_a_date_beyond_the_coverage_raises(china: BusinessCalendar, rule: str) -> None:
    with pytest.raises(CoverageError) as raised:
        china.adjust(date(2027, 1, 1), rule)
    message = str(raised.value)
    for part in ("2027-01-01", "China, chinese-calendar 1.11.0", "2026-12-31", "with_weekend_projection()"):
        assert part in message, (part, message)
    with pytest.raises(CoverageError, match="2027-03-15"):
        china.is_business_day(date(2027, 3, 15))
    with pytest.raises(CoverageError, match=r"2028-06-30, beyond .* \(1 more of the 3 days too\)"):
        china.adjust_days(np.array([epoch_days(date(2026, 6, 1)), epoch_days(date(2028, 6, 30)),
                                    epoch_days(date(2029, 1, 1))]), rule)
    assert china.adjust(date(2027, 1, 1), "none") == date(2027, 1, 1)  # no calendar is read


@pytest.mark.parametrize("projected", [False, True])
def test_a_date_before_the_coverage_raises(china: BusinessCalendar, projected: bool) -> None:
    calendar = china.with_weekend_projection() if projected else china
    for rule in ("following", "modified_following"):
        with pytest.raises(CoverageError, match=r"2003-12-31.*before.*starts on 2004-01-01"):
            calendar.adjust(date(2003, 12, 31), rule)
        with pytest.raises(CoverageError, match="2003-06-02"):
            calendar.adjust_days(np.array([epoch_days(date(2003, 6, 2))]), rule)
    with pytest.raises(CoverageError, match="2003-06-02"):
        calendar.is_business_day(date(2003, 6, 2))


def test_the_weekend_projection_is_explicit_and_reported(china: BusinessCalendar) -> None:
    projected = china.with_weekend_projection()
    assert china.projection_note() is None
    assert not china.weekends_beyond and projected.weekends_beyond
    note = projected.projection_note()
    assert note is not None
    for part in ("after 2026-12-31", "Monday to Friday", "no holidays", "not published", china.name):
        assert part in note, (part, note)
    assert projected.digest != china.digest
    assert np.array_equal(projected.table, china.table) and projected.name == china.name
    # beyond the data: weekends only (1 January 2027 is a Friday: a holiday in fact, a business day in the projection)
    assert projected.adjust(date(2027, 1, 1), "following") == date(2027, 1, 1)
    assert projected.adjust(date(2027, 1, 2), "following") == date(2027, 1, 4)
    assert projected.adjust(date(2027, 1, 30), "modified_following") == date(2027, 1, 29)  # Monday is February
    assert projected.adjust(date(2027, 1, 30), "following") == date(2027, 2, 1)
    assert projected.is_business_day(date(2031, 10, 1)) and not projected.is_business_day(date(2031, 10, 4))
    days = np.array([epoch_days(date(2027, 7, 31)), epoch_days(date(2025, 1, 31))])  # a Saturday, a holiday
    assert [day_date(d) for d in projected.adjust_days(days, "modified_following")] == [date(2027, 7, 30),
                                                                                        date(2025, 1, 27)]
    # inside the data nothing changes
    assert projected.adjust(date(2025, 5, 31), "following") == date(2025, 6, 3)


def test_a_walk_that_leaves_the_coverage_raises() -> None:
    january = BusinessCalendar.of([date(2025, 1, 31)], [], date(2025, 1, 1), date(2025, 1, 31), "January 2025")
    with pytest.raises(CoverageError, match=r"2025-01-31 \(the rule reaches 2025-02-01\).*last covered day is "
                                            r"2025-01-31"):
        january.adjust(date(2025, 1, 31), "following")
    assert january.with_weekend_projection().adjust(date(2025, 1, 31), "following") == date(2025, 2, 3)
    assert january.with_weekend_projection().adjust(date(2025, 1, 31), "modified_following") == date(2025, 1, 30)
    # backwards, out of the start: the projection runs forward only, so a walk back before the first day raises
    end_of_year = BusinessCalendar.of([date(2024, 12, 31)], [], date(2024, 12, 31), date(2025, 1, 10), "test")
    with pytest.raises(CoverageError, match=r"2024-12-31 \(the rule reaches 2024-12-30\).*before"):
        end_of_year.with_weekend_projection().adjust(date(2024, 12, 31), "modified_following")


def test_an_explicit_calendar_and_its_digest() -> None:
    holidays, workdays = [date(2025, 10, d) for d in range(1, 9)], [date(2025, 9, 28), date(2025, 10, 11)]
    one = BusinessCalendar.of(holidays, workdays, date(2025, 9, 1), date(2025, 10, 31), "a bank")
    same = BusinessCalendar.of(reversed(holidays), workdays, date(2025, 9, 1), date(2025, 10, 31), "a bank")
    other = BusinessCalendar.of(holidays[:-1], workdays, date(2025, 9, 1), date(2025, 10, 31), "a bank")
    assert one.digest == same.digest and one == same
    assert other.digest != one.digest and other != one
    assert len(one.digest) == 64 and int(one.digest, 16) >= 0
    assert one.adjust(date(2025, 10, 1), "following") == date(2025, 10, 9)
    assert one.is_business_day(date(2025, 9, 28)) and one.is_business_day(date(2025, 10, 11))
    assert not one.is_business_day(date(2025, 10, 12))
    with pytest.raises(ValueError, match="outside the coverage"):
        BusinessCalendar.of([date(2025, 11, 1)], [], date(2025, 9, 1), date(2025, 10, 31), "a bank")
    with pytest.raises(ValueError, match="not one of"):
        one.adjust(date(2025, 10, 1), "preceding")
    with pytest.raises(ValueError, match="one a day"):
        BusinessCalendar("short", date(2025, 1, 1), date(2025, 1, 31), np.ones(30, np.uint8))
    with pytest.raises(TypeError, match="integers"):
        one.adjust_days(np.array([1.5]), "following")


def test_the_kernels_weekday_and_table_edges() -> None:
    for day in range(-800, 800):
        assert weekday(day) == day_date(day).weekday(), day
    table = np.array([1, 0, 1], dtype=np.uint8)  # Thursday 1 January 1970, Friday 2 off, Saturday 3 working
    code = BusinessDay.FOLLOWING.code
    assert adjust_day(1, code, 0, table, False) == (2, False)
    assert adjust_day(-1, code, 0, table, False) == (-1, True)  # before the table
    assert adjust_day(3, code, 0, table, False) == (3, True)  # after it
    assert adjust_day(3, code, 0, table, True) == (4, False)  # projected: Sunday 4 January -> Monday 5
