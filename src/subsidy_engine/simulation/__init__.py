"""Multi-year simulations, scenarios, Monte Carlo on the LPR, and synthetic portfolios."""
