"""One user's findings split by run id, so that one search can rank them on several
connections at once.

Ranking a heavy user's findings is CPU work in the database server (about 0.7 us per
finding on a 2-core machine), and one statement runs on one core. Run ids are random
UUIDs, so equal ranges of the id space hold about equal shares of any user's findings,
however they are spread over that user's scouts; the covering index's key is
(scout_id, id), so each range is a contiguous slice of every scout's entries and no shard
reads another's.

Every shard returns its own best ``limit`` (already ranked at full precision); the best
``limit`` of their union are the best of all, since every finding lies in exactly one
shard.
"""

from __future__ import annotations

import uuid

MAX_SHARDS = 16
_SPACE = 1 << 128

IdRange = tuple[uuid.UUID, uuid.UUID]  # both ends included

EVERY_ID: IdRange = (uuid.UUID(int=0), uuid.UUID(int=_SPACE - 1))


def id_ranges(shards: int) -> list[IdRange]:
    """``shards`` adjacent ranges of equal width that cover every UUID exactly once."""
    if not 1 <= shards <= MAX_SHARDS:
        raise ValueError(f"shards must be between 1 and {MAX_SHARDS}, got {shards}")
    bounds = [_SPACE * i // shards for i in range(shards + 1)]
    return [(uuid.UUID(int=low), uuid.UUID(int=high - 1))
            for low, high in zip(bounds, bounds[1:], strict=False)]

