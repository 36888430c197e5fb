"""The storage seam: small modules of query functions over SQLAlchemy Core.

Each function takes an open connection (the caller owns the transaction) and returns
plain dicts. Only vectors.py knows which database it is talking to.
"""
