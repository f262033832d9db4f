"""The ways in: the command line, the HTTP quote service, the one-project quote, bank reconciliation.
"""
