"""Searching everything a user's scouts ever found, by meaning (GET /api/findings)."""
