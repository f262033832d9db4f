"""Loans: the contract, loans as arrays, repricing on the LPR, and schedules (one loan or a portfolio).
"""
