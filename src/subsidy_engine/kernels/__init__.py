"""Numba kernels over int64 fen, one module per family. They know arrays only: no pandas, pydantic or
Decimal.
"""
