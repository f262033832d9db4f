"""The portfolio template a finance officer fills in: ``subsidy-engine template FILE.xlsx`` (issue 19, point 3).

The workbook has a guide sheet, then the input tables, ``projects``, ``loans``, ``insurance``, ``events``, the
decided ``awards`` and the ``government_investment`` (the last two may be left empty), each laid out for people
and read by :func:`subsidy_engine.load_portfolio` as it is:

* row 1: each column's name in Chinese and English (bold, shaded);
* row 2: what the column holds: required or not, its type and unit, its allowed values (from the vocabulary file);
* row 3: the column ids, the header the engine reads (rows above it are set aside, and the notes say so);
* rows 4 and 5: two example rows that validate and simulate as they are (change or delete them).

A column whose values come from a list (a stage, a repayment method, a product field, a yes/no flag) has an Excel
drop-down of the values the engine accepts, taken from the engine's own vocabularies, so the template and the
readers cannot disagree; ``sector`` and ``district`` suggest the known ones and take others. Example amounts are
number cells formatted ``#,##0.00``, rates percent cells, dates date cells: the types the readers expect.

The file is written whole or not at all (a temporary name, then a rename), and an existing file is not
overwritten unless asked: it may be a filled-in portfolio.
"""

from __future__ import annotations

import os
import typing
from datetime import date
from decimal import Decimal
from pathlib import Path

from subsidy_engine.core.language import DEFAULT_LANG, Lang, name, names, text
from subsidy_engine.core.vocabulary import (
    STAGES,
    VENUES,
    BusinessDay,
    Domain,
    Frequency,
    InterestBasis,
    InterestDates,
    Method,
    PlanUnit,
    PlatformType,
    ProductField,
    Reset,
    Stage,
    Tenor,
)
from subsidy_engine.loans.arrays import LOAN_COLUMNS
from subsidy_engine.measures.awards import AWARD_COLUMNS, AWARD_KINDS
from subsidy_engine.measures.government_investment import GOVERNMENT_INVESTMENT_COLUMNS, INVESTMENT_KINDS
from subsidy_engine.measures.grants import EVENT_COLUMNS, KINDS
from subsidy_engine.measures.investment import FLAG_WORDS, PROJECT_COLUMNS, PROJECT_FLAGS, Category
from subsidy_engine.measures.premium_subsidy import INSURANCE_COLUMNS
from subsidy_engine.pipeline.inputs import REQUIRED

#: The tables of the template and their columns, in order (the loans' nested ``floating`` column is spelt out
#: as its three columns).
COLUMNS: dict[str, tuple[str, ...]] = {
    "projects": PROJECT_COLUMNS,
    "loans": ("loan_id", "project_id", *(c for c in LOAN_COLUMNS if c != "floating")),
    "insurance": INSURANCE_COLUMNS,
    "events": EVENT_COLUMNS,
    "awards": AWARD_COLUMNS,
    "government_investment": GOVERNMENT_INVESTMENT_COLUMNS,
}
FLAGS = FLAG_WORDS  # the words the flag reader takes (true/yes/1/是, false/no/0/否)
#: The values each list column takes: the engine's own vocabularies.
CHOICES: dict[str, tuple[str, ...]] = {
    **{f"projects.{flag}": FLAGS for flag in PROJECT_FLAGS},
    "projects.domain": tuple(d.value for d in Domain), "projects.stage": tuple(s.value for s in Stage),
    "projects.platform_type": tuple(p.value for p in PlatformType), "projects.category": typing.get_args(Category),
    "projects.sector": tuple(names("sectors")), "projects.district": tuple(names("districts")),
    "loans.floating_tenor": tuple(str(t) for t in Tenor), "loans.floating_reset": tuple(r.value for r in Reset),
    "loans.frequency": tuple(f.value for f in Frequency), "loans.method": tuple(m.value for m in Method),
    "loans.principal_plan_unit": tuple(u.value for u in PlanUnit),
    "loans.interest_basis": tuple(b.value for b in InterestBasis),
    "loans.business_day": tuple(b.value for b in BusinessDay),
    "loans.interest_dates": tuple(d.value for d in InterestDates),
    "loans.interest_frequency": tuple(f.value for f in Frequency),
    "insurance.product_field": tuple(f.value for f in ProductField),
    "events.kind": KINDS, "events.venue": VENUES, "events.stage": STAGES,
    "awards.kind": AWARD_KINDS, "government_investment.kind": INVESTMENT_KINDS,
}
#: List columns that take other values too (a bureau's own sectors and districts): the list only suggests.
OPEN_CHOICES = frozenset({"projects.sector", "projects.district"})
MONEY = frozenset({"projects.total_investment", "projects.eligible_investment", "projects.expected_returns",
                   "loans.principal", "insurance.insured_amount", "insurance.premium", "events.amount_raised",
                   "awards.amount", "government_investment.amount"})
RATES = frozenset({"loans.annual_rate"})
#: Two rows a table that validate and simulate as they are (made-up names; amounts in yuan).
EXAMPLES: dict[str, list[dict[str, object]]] = {
    "projects": [
        {"project_id": "P001", "enterprise_id": "E001", "name": "海淀算力中心示例项目", "sector": "computing_centre",
         "district": "haidian", "industry_or_software": "true", "domain": "economic", "stage": "demonstration",
         "in_library": "true", "solution_list": "true", "scenario_opened": "true", "demonstration_case": "true",
         "merit_score": Decimal("86.50"), "platform_type": "none",
         "free_service_obligation": "false", "category": "compute_or_network", "total_investment": 300_000_000,
         "eligible_investment": 240_000_000, "start_date": date(2025, 3, 1)},
        {"project_id": "P002", "enterprise_id": "E002", "name": "通州智慧城市示例平台", "sector": "smart_city",
         "district": "tongzhou", "industry_or_software": "false", "domain": "public", "stage": "pilot",
         "in_library": "false", "solution_list": "false", "scenario_opened": "true", "demonstration_case": "false",
         "merit_score": Decimal("78"), "platform_type": "quasi_operating",
         "free_service_obligation": "true", "category": "other", "total_investment": 80_000_000,
         "eligible_investment": 60_000_000, "expected_returns": 30_000_000, "start_date": date(2025, 9, 15)},
    ],
    "loans": [
        {"loan_id": "L001", "project_id": "P001", "principal": 100_000_000, "annual_rate": Decimal("0.0345"),
         "term_months": 60, "frequency": "monthly", "method": "equal_installment", "start_date": date(2025, 4, 20)},
        {"loan_id": "L002", "project_id": "P002", "principal": 30_000_000, "floating_tenor": "5Y",
         "floating_spread_bp": -30, "floating_reset": "january", "term_months": 36, "frequency": "quarterly",
         "method": "interest_only", "start_date": date(2025, 10, 10)},
    ],
    "insurance": [
        {"policy_id": "I001", "enterprise_id": "E001", "project_id": "P001", "product_field": "ai",
         "insured_amount": 50_000_000, "premium": 600_000, "start_date": date(2025, 6, 1), "years": 3},
        {"policy_id": "I002", "enterprise_id": "E002", "project_id": "P002", "product_field": "network_security",
         "insured_amount": 20_000_000, "premium": 300_000, "start_date": date(2026, 1, 1), "years": 2},
    ],
    "events": [
        {"event_id": "V001", "kind": "listing", "enterprise_id": "E001", "venue": "a_share_ipo",
         "stage": "acceptance", "date": date(2026, 5, 20)},
        {"event_id": "V002", "kind": "reits_issuance", "enterprise_id": "E002", "project_id": "P002",
         "date": date(2026, 9, 30), "amount_raised": 800_000_000},
    ],
    "awards": [
        {"award_id": "A001", "enterprise_id": "E001", "project_id": "P001", "kind": "reward", "amount": 2_000_000,
         "decision_date": date(2026, 4, 15), "payment_years": 2},
        {"award_id": "A002", "enterprise_id": "E002", "project_id": "P002", "kind": "research_funding",
         "amount": 5_000_000, "decision_date": date(2026, 6, 30), "first_payment_year": 2027, "payment_years": 3},
    ],
    "government_investment": [
        {"investment_id": "G001", "project_id": "P002", "kind": "capital_injection", "measure": 1, "year": 2026,
         "amount": 10_000_000},
        {"investment_id": "G002", "project_id": "P002", "kind": "direct_investment", "measure": 1, "year": 2027,
         "amount": 6_000_000},
    ],
}
FIRST_DATA_ROW, LAST_CHECKED_ROW = 4, 5_000  # the rows the drop-downs and formats reach


def write_template(path: str | os.PathLike[str], *, lang: Lang | str = DEFAULT_LANG, overwrite: bool = False) -> Path:
    """Write the template workbook to ``path`` (an ``.xlsx`` name); ``lang``: the language of the descriptions and
    the guide (the column names are in both languages).

    >>> import tempfile, openpyxl
    >>> book = openpyxl.load_workbook(write_template(f"{tempfile.mkdtemp()}/portfolio.xlsx"))
    >>> book.sheetnames, [c.value for c in book["projects"][3]][:3]
    (['填写说明', 'projects', 'loans', 'insurance', 'events', 'awards', 'government_investment'], ['project_id', 'enterprise_id', 'name'])
    """
    # openpyxl ships no type information (types-openpyxl is a separate stub package)
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Alignment, Font, PatternFill  # type: ignore[import-untyped]
    from openpyxl.worksheet.datavalidation import DataValidation  # type: ignore[import-untyped]

    out = Path(path)
    if out.suffix.lower() != ".xlsx":
        raise ValueError(f"{out}: a template is an .xlsx workbook; give a name ending in .xlsx")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: already exists (it may be a filled-in portfolio); choose another name, or "
                              "--force to replace it")
    lang = Lang.parse(lang)
    book = Workbook()
    guide = book.active
    assert guide is not None
    guide.title = text("template", "guide_sheet", lang)
    guide["A1"] = text("template", "guide_title", lang)
    guide["A1"].font = Font(bold=True, size=14)
    guide["A3"] = text("template", "guide")
    guide["A5"] = text("template", "guide", "en") if lang is Lang.ZH else None
    for cell in ("A3", "A5"):
        guide[cell].alignment = Alignment(wrap_text=True, vertical="top")
    guide.column_dimensions["A"].width = 110
    guide.row_dimensions[3].height = guide.row_dimensions[5].height = 120
    head_fill, note_fill = PatternFill("solid", fgColor="DDEBF7"), PatternFill("solid", fgColor="F2F2F2")
    for table, columns in COLUMNS.items():
        sheet = book.create_sheet(table)
        for k, column in enumerate(columns, start=1):
            key = f"{table}.{column}"
            required = column in REQUIRED[table]
            title = sheet.cell(1, k, f"{name('input_columns', key, 'zh')}\n{name('input_columns', key, 'en')}")
            title.font, title.fill = Font(bold=True, color="C00000" if required else "000000"), head_fill
            title.alignment = Alignment(wrap_text=True, vertical="top")
            note = sheet.cell(2, k, name("input_notes", key, lang))
            note.font, note.fill = Font(italic=True, color="595959", size=9), note_fill
            note.alignment = Alignment(wrap_text=True, vertical="top")
            sheet.cell(3, k, column).font = Font(bold=True, color="1F4E79")
            letter = sheet.cell(3, k).column_letter
            sheet.column_dimensions[letter].width = max(14, min(30, 2 * len(name("input_columns", key, "zh")) + 2))
            for r, example in enumerate(EXAMPLES[table], start=FIRST_DATA_ROW):
                value = example.get(column)
                cell = sheet.cell(r, k, value)
                if key in MONEY:
                    cell.number_format = "#,##0.00"
                elif key in RATES:
                    cell.number_format = "0.00%"
                elif isinstance(value, date):
                    cell.number_format = "yyyy-mm-dd"
            if key in CHOICES:
                listed = DataValidation(type="list", formula1='"' + ",".join(CHOICES[key]) + '"', allow_blank=True,
                                        showErrorMessage=key not in OPEN_CHOICES,
                                        promptTitle=name("input_columns", key, lang),
                                        prompt=text("template", "list_prompt", lang), showInputMessage=True)
                listed.add(f"{letter}{FIRST_DATA_ROW}:{letter}{LAST_CHECKED_ROW}")
                sheet.add_data_validation(listed)
        sheet.row_dimensions[1].height, sheet.row_dimensions[2].height = 32, 60
        sheet.freeze_panes = f"B{FIRST_DATA_ROW}"
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        book.save(partial)
        os.replace(partial, out)  # whole or not at all
    except OSError as exc:  # named by the file asked for, not the temporary one
        raise OSError(exc.errno, f"{out}: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return out


__all__ = ["CHOICES", "COLUMNS", "EXAMPLES", "write_template"]
