"""Column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pgvector.sqlalchemy import VECTOR
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both backends.

    SQLite has no time zone type, so values are stored as naive UTC and made aware again
    when read; PostgreSQL uses timestamptz.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name == "postgresql" and dialect.driver == "asyncpg":
            # asyncpg decodes timestamptz as aware datetimes in UTC (datetime.UTC)
            # already: converting each one again in Python cost every read that lists
            # rows, a few dozen calls per scout list. (Only 'infinity', which nothing
            # here writes, would come back naive.)
            return None
        generic = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite":
            return generic

        def parse_sqlite(value: Any) -> datetime | None:
            # SQLite hands back the naive UTC text written above; parsing it with its
            # offset appended is several times quicker than parsing it and then
            # replace(tzinfo=...), and a scout list reads dozens of them.
            if value.__class__ is str:
                try:
                    return datetime.fromisoformat(value + "+00:00")
                except ValueError:
                    pass  # not the text we write: SQLAlchemy's own conversion decides
            return generic(value) if generic is not None else value

        return parse_sqlite


class Embedding(sa.TypeDecorator[list[float]]):
    """pgvector ``vector(dim)`` on PostgreSQL; packed float32 bytes on SQLite."""

    impl = sa.LargeBinary
    cache_ok = True

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(VECTOR(self.dim))
        return dialect.type_descriptor(sa.LargeBinary())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        values = [float(v) for v in value]
        if dialect.name == "postgresql":
            return values
        return array("f", values).tobytes()

    def process_result_value(self, value: Any, dialect: Dialect) -> list[float] | None:
        if value is None:
            return None
        if isinstance(value, (bytes, bytearray, memoryview)):
            unpacked = array("f")
            unpacked.frombytes(bytes(value))
            return list(unpacked)
        return [float(v) for v in value]
