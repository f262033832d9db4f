"""From portfolio tables to claims: the tables read once, the shared context and stacking, evaluate,
one project, explain.
"""
