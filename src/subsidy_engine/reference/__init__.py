"""The plain Decimal reference: independent evidence for the tests. No production module imports it.
"""
