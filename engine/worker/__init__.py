"""The long-running worker: a continuously fed pipeline of runs (see pipeline.py)."""
