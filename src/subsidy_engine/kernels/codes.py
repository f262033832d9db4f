"""The integer codes under which the kernels see the engine's vocabularies.

The enums of :mod:`subsidy_engine.core.vocabulary` are mapped to these codes
once, where loan and rule arrays are built; a kernel compares integers.
"""

from subsidy_engine.core.vocabulary import BusinessDay, InterestBasis, LedgerKind, Method, Recompute, SubsidyForm

METHOD_EQUAL_INSTALLMENT = Method.EQUAL_INSTALLMENT.code
METHOD_EQUAL_PRINCIPAL = Method.EQUAL_PRINCIPAL.code
METHOD_INTEREST_ONLY = Method.INTEREST_ONLY.code
METHOD_CUSTOM = Method.CUSTOM.code

BASIS_MONTHLY = InterestBasis.MONTHLY.code
BASIS_ACT_360 = InterestBasis.ACT_360.code
BASIS_ACT_365 = InterestBasis.ACT_365.code
BASIS_30_360 = InterestBasis.THIRTY_360.code

BUSINESS_DAY_NONE = BusinessDay.NONE.code
BUSINESS_DAY_FOLLOWING = BusinessDay.FOLLOWING.code
BUSINESS_DAY_MODIFIED_FOLLOWING = BusinessDay.MODIFIED_FOLLOWING.code

LEDGER_INTEREST_SETTLED = LedgerKind.INTEREST_SETTLED.code
LEDGER_REPAYMENT = LedgerKind.REPAYMENT.code
LEDGER_DRAWDOWN = LedgerKind.DRAWDOWN.code
LEDGER_RATE_CHANGE = LedgerKind.RATE_CHANGE.code

RECOMPUTE_PAYMENT = Recompute.PAYMENT.code
RECOMPUTE_TERM = Recompute.TERM.code


SEGMENT_OK = 0
SEGMENT_BEFORE_FIRST_FIXING = 1
SEGMENT_BEYOND_COVERAGE = 2
SEGMENT_NEGATIVE_RATE = 3


FORM_POINTS_ON_BALANCE = SubsidyForm.POINTS_ON_BALANCE.code
FORM_POINTS_ON_PRINCIPAL = SubsidyForm.POINTS_ON_PRINCIPAL.code
FORM_SHARE_OF_INTEREST = SubsidyForm.SHARE_OF_INTEREST.code
FORM_RATE_GAP = SubsidyForm.RATE_GAP.code
