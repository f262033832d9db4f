"""Dated parameters as data: the policy file, its rules, the LPR fixings and the budget."""
