"""A SELECT run on the database driver's own cursor: compiled once, converted as SQLAlchemy would.

For a read by primary key on SQLite, SQLAlchemy's execution of even a cached statement (the
execution context, the parameters, the result's metadata and rows) costs about as much as
SQLite's own work (docs/benchmarks.md, consented reads). A DriverQuery compiles its statement
once per dialect, binds the parameters in the compiled order through their types' bind
processors, and converts each value of the row through its column type's result processor:
the values are those the same statement gives through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    names: tuple[str, ...]
    positional: bool
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]


class DriverQuery:
    """statement, run with first(db, params) on db's DBAPI connection."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._plans: dict[str, _Plan] = {}

    def first(self, db: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row, its values converted by the columns' types; None when there is none."""
        plan = self._plans.get(db.dialect.name) or self._plan(db.dialect)
        values = [
            params[name] if bind is None else bind(params[name])
            for name, bind in zip(plan.names, plan.binds, strict=True)
        ]
        cursor = db.connection.cursor()
        try:
            cursor.execute(
                plan.sql, values if plan.positional else dict(zip(plan.names, values, strict=True))
            )
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        return tuple(
            value if convert is None else convert(value)
            for value, convert in zip(row, plan.results, strict=True)
        )

    def _plan(self, dialect: Dialect) -> _Plan:
        compiled = self.statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
        plan = _Plan(
            sql=compiled.string,
            names=names,
            positional=compiled.positional,
            binds=tuple(
                compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                for name in names
            ),
            results=tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in self.statement.selected_columns
            ),
        )
        self._plans[dialect.name] = plan
        return plan
