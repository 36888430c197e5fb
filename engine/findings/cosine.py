"""Cosine ranking of packed float32 vectors with numpy: how SQLite installs rank findings.

One float64 matrix product over all of a user's vectors, so the order is PostgreSQL's
full-precision order, ties by id; decoding the vectors into Python floats one finding at a
time had cost far more than the arithmetic.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

IdT = TypeVar("IdT", uuid.UUID, str)


def similarities(unit_query: np.ndarray, packed: Sequence[bytes]) -> np.ndarray:
    """Cosine of each packed float32 vector with a query already scaled to length 1; a
    zero vector scores 0."""
    matrix = np.frombuffer(b"".join(packed), dtype=np.float32).reshape(len(packed), -1)
    wide = matrix.astype(np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", wide, wide))
    dots = wide @ unit_query
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def best_by_similarity(
    scores: np.ndarray, ids: Sequence[IdT], limit: int
) -> list[tuple[float, IdT]]:
    """The ``limit`` highest scores, best first, ties by id."""
    if len(scores) > limit:
        # Everything at least as good as the limit-th best: ties at the cut all stay in,
        # so that the id decides between them below.
        cut = np.partition(scores, len(scores) - limit)[len(scores) - limit]
        chosen = np.flatnonzero(scores >= cut)
    else:
        chosen = np.arange(len(scores))
    ranked = sorted(((float(scores[i]), ids[i]) for i in chosen.tolist()),
                    key=lambda s: (-s[0], s[1]))
    return ranked[:limit]


def best(
    query: Sequence[float], packed: Sequence[bytes], ids: Sequence[IdT], limit: int
) -> list[tuple[float, IdT]]:
    """The ``limit`` vectors of ``packed`` (each the size of ``query``) most similar to
    ``query``, as (similarity, id), best first."""
    vector = np.asarray(query, dtype=np.float64)
    norm = float(np.sqrt(vector @ vector))
    if not packed or not norm:
        return []
    return best_by_similarity(similarities(vector / norm, packed), ids, limit)
