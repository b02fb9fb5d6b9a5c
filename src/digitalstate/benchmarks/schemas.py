"""A fresh database for a benchmark run (an SQLite file, or a PostgreSQL schema), removed
afterwards."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


@contextmanager
def fresh_database(url: str | None, prefix: str) -> Iterator[str]:
    """A fresh SQLite file in a temporary directory, or a fresh schema of a PostgreSQL url."""
    if url is None:
        with tempfile.TemporaryDirectory(prefix=f"digitalstate-{prefix}-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'node.db'}"
        return
    with fresh_postgres_schema(url, prefix.replace("-", "_")) as scoped:
        yield scoped
