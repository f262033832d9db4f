"""From claims to awards under the budget: allocation (waterfall, merit), the plan kernel's records,
the optimal mode.
"""
