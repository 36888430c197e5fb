"""A read statement compiled once and run at the driver level.

For the hottest reads (the scout list behind every page of the UI) SQLAlchemy's execution
path cost more than the query: a connection wrapper per checkout, the execution context,
result rows and their mappings; through aiosqlite also several thread hops per statement.
A `PreparedRead` keeps what SQLAlchemy would compute anyway (the SQL text for the dialect,
the order of its parameters, each column's bind and result conversions) and applies it
itself around one driver call, so rows come back exactly as SQLAlchemy would return them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any]

# What SQLAlchemy's numeric result conversions on asyncpg ask for: the column's type OID
# from the cursor's description, which a statement run at the driver does not have. The
# declared type stands in for it: float8 for a Float, numeric for any other Numeric.
_FLOAT8_OID, _NUMERIC_OID = 701, 1700
# Float's base: NumericCommon from SQLAlchemy 2.1, Numeric itself before.
_NUMBER_TYPE: type[Any] = getattr(sa.types, "NumericCommon", sa.Numeric)


@dataclass(frozen=True)
class CompiledRead:
    sql: str
    # Per positional parameter: the caller's parameter name (or None for a constant the
    # statement itself holds, such as a LIMIT), its value if constant, its conversion.
    parameters: tuple[tuple[str | None, Any, Processor | None], ...]
    keys: tuple[str, ...]
    # (position, conversion) for the columns whose driver value SQLAlchemy would convert.
    conversions: tuple[tuple[int, Processor], ...]

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, constant, convert in self.parameters:
            value = constant if name is None else values[name]
            out.append(convert(value) if convert is not None and value is not None else value)
        return out

    def rows(self, records: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        keys, conversions = self.keys, self.conversions
        out = []
        for record in records:
            row = dict(zip(keys, record, strict=True))
            for position, convert in conversions:
                value = record[position]
                if value is not None:
                    row[keys[position]] = convert(value)
            out.append(row)
        return out


class PreparedRead:
    """One SELECT (or a UNION of them) whose only runtime parameters are named
    ``bindparam``s; compiled on first use for each dialect."""

    def __init__(self, statement: sa.Select[Any] | sa.CompoundSelect) -> None:
        self.statement = statement
        self._compiled: dict[str, CompiledRead] = {}

    def compiled(self, dialect: Dialect) -> CompiledRead:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = self._compile(dialect)
        return found

    def _compile(self, dialect: Dialect) -> CompiledRead:
        compiled = self.statement.compile(dialect=dialect)
        if compiled.positiontup is None:
            raise ValueError(f"{dialect.name} does not compile to positional parameters")
        parameters: list[tuple[str | None, Any, Processor | None]] = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required:
                parameters.append((bind.key, None, convert))
            else:
                parameters.append((None, bind.effective_value, convert))
        keys: list[str] = []
        conversions: list[tuple[int, Processor]] = []
        for position, column in enumerate(self.statement.selected_columns):
            if column.key is None:
                raise ValueError("every selected column needs a name")
            keys.append(column.key)
            conversion = _result_conversion(column.type, dialect)
            if conversion is not None:
                conversions.append((position, conversion))
        return CompiledRead(str(compiled), tuple(parameters), tuple(keys), tuple(conversions))


def _result_conversion(type_: sa.types.TypeEngine[Any], dialect: Dialect) -> Processor | None:
    impl = type_.dialect_impl(dialect)
    coltype = None
    if isinstance(impl, _NUMBER_TYPE):
        coltype = _FLOAT8_OID if isinstance(impl, sa.Float) else _NUMERIC_OID
    return impl.result_processor(dialect, coltype)
