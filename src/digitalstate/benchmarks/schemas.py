"""A fresh PostgreSQL schema for a benchmark run, dropped afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url

from digitalstate.storage.engine import make_engine


@contextmanager
def fresh_postgres_schema(url: str, prefix: str) -> Iterator[str]:
    """url made to work in a new schema named prefix_<random>; the schema goes at the end."""
    schema = f"{prefix}_{secrets.token_hex(6)}"
    admin = make_engine(url)
    if admin.dialect.name != "postgresql":
        admin.dispose()
        raise RuntimeError("--database-url must name a PostgreSQL database")
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
