"""The integer codes under which the kernels see the engine's vocabularies.

The enums of :mod:`subsidy_engine.core.vocabulary` are mapped to these codes
once, where loan and rule arrays are built; a kernel compares integers.
"""

METHOD_EQUAL_INSTALLMENT = 0
METHOD_EQUAL_PRINCIPAL = 1
METHOD_INTEREST_ONLY = 2
METHOD_CUSTOM = 3

BASIS_MONTHLY = 0
BASIS_ACT_360 = 1
BASIS_ACT_365 = 2
BASIS_30_360 = 3


SEGMENT_OK = 0
SEGMENT_BEFORE_FIRST_FIXING = 1
SEGMENT_BEYOND_COVERAGE = 2
SEGMENT_NEGATIVE_RATE = 3


FORM_POINTS_ON_BALANCE = 0
FORM_POINTS_ON_PRINCIPAL = 1
FORM_SHARE_OF_INTEREST = 2
FORM_RATE_GAP = 3
