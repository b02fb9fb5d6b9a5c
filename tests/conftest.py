"""Fixtures every test layer shares: a database on SQLite and on PostgreSQL, each test isolated.

`database_url` runs a test twice: once on a fresh SQLite file, once on the PostgreSQL named by
DIGITALSTATE_TEST_POSTGRES_URL (default the CI one), in a fresh schema (an empty database) or a
database (a migrated one) of its own. A migrated database (`migrated_database_url`,
`engine`) is a copy of a template migrated once per test process: a file copy on SQLite; on
PostgreSQL a CREATE DATABASE ... TEMPLATE, emptied after the test and given to the next one
(or dropped, when the test changed its schema). Tests may run migrations and commit: nothing
leaks between them. When PostgreSQL cannot be reached the PostgreSQL runs
are skipped, saying why, except in CI (CI=true), where they fail: CI must never go green
without the production database.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import secrets
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from argon2 import PasswordHasher, profiles
from hypothesis import settings
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.identity import service as identity_service
from digitalstate.storage import migrate
from digitalstate.storage.engine import make_engine, make_sessions

# Hypothesis's 200 ms deadline per example is a timed test: on a shared, loaded machine an
# example that takes 0.3 ms alone takes 300 ms now and then. Speed is the benchmarks' to
# measure (make bench); examples here are judged on what they do, never on how long.
settings.register_profile("digitalstate", deadline=None)
settings.load_profile("digitalstate")

# argon2id at the production cost (64 MiB and three passes a check) is slow on purpose, and a
# sign-in pays it: the tests hash with the profile argon2-cffi offers for tests, as Django's
# test settings swap in a fast hasher. The hashes are still argon2id (tests/unit checks) and
# production keeps PasswordHasher()'s defaults. Node processes the e2e tests start keep them
# too, but verify a hash at the cost written in it.
identity_service._HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)


# The test processes build thousands of apps, engines and federations, and Python's cyclic
# garbage collector, at its default thresholds (a young collection every 700 allocations, a
# full one as the heap grows by a quarter), spent about a fifth of a test process's CPU walking
# them (measured with gc.callbacks on tests/integration/test_oidc_provider.py: 8.0 s of 42 s).
# A young collection every 50,000 allocations, older ones 5 and 10 times rarer again, and what
# collection made (modules, functions, test items) frozen out of every later collection: about
# 2 s of 35 s.
# Only the test processes: the node and CLI processes the tests start keep Python's defaults.
GC_THRESHOLDS = (50_000, 50, 100)


def pytest_configure(config: pytest.Config) -> None:
    """Collect garbage less often in this test process (GC_THRESHOLDS)."""
    gc.set_threshold(*GC_THRESHOLDS)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what collection made: later collections need not walk it again."""
    gc.collect()
    gc.freeze()


# The end-to-end modules whose processes each hold many PostgreSQL connections: the nine
# nodes of the log witness test held about 50 and the several-worker nodes about 40, so that
# together (with the other workers' tests) they reached the server's max_connections (100) and a
# node was refused. As one unit of work they never run at the same time.
MANY_CONNECTIONS = ("tests/e2e/test_log_witness_e2e.py", "tests/e2e/test_workers_e2e.py")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist's loadscope, but with every browser test in one unit of work, and the
    modules of MANY_CONNECTIONS in another.

    The browser tests share one demo (twelve processes, tests/browser/conftest.py) and one
    Chromium, and their pages wait on those processes: browser modules on two workers at
    once would start a demo and a Chromium each and, on a 2-core machine, make each several times
    slower and starve the other workers. As one unit they run one after another on one
    worker, on one demo, from the start of the run (tests/browser is collected first), while
    the other workers take everything else.
    """
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BrowserTestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith("tests/browser/"):
                return "tests/browser"
            if nodeid.startswith(MANY_CONNECTIONS):
                return "tests/e2e: many PostgreSQL connections"
            return super()._split_scope(nodeid)

    return BrowserTestsTogether(config, log)


POSTGRES_ENV = "DIGITALSTATE_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_base_url() -> str:
    """The PostgreSQL the suite runs against, as a libpq URL."""
    url = os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES_URL
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@functools.cache
def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers (asked once per run)."""
    url = postgres_base_url()
    try:
        with psycopg.connect(url, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        shown = make_url(url).render_as_string(hide_password=True)
        return f"PostgreSQL at {shown} is unreachable ({first_line}); set {POSTGRES_ENV}"
    return None


def _require_postgres() -> None:
    reason = postgres_unreachable()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the PostgreSQL tests", pytrace=False)
    pytest.skip(reason)


class _Dropper:
    """Drops the tests' PostgreSQL databases and schemas in a thread, off the tests' path.

    A drop waits on the disk (hundreds of milliseconds on a loaded machine); the next test
    need not. Every drop is done, and any failure reported, when the session ends.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop")
        self._pending: list[Future[None]] = []

    def drop(self, statement: str) -> None:
        self._pending.append(self._pool.submit(self._run, statement))

    @staticmethod
    def _run(statement: str) -> None:
        with psycopg.connect(postgres_base_url(), autocommit=True) as admin:
            # A connection a test left inside a transaction must not hang the run here.
            admin.execute("SET lock_timeout = '10s'")
            admin.execute(statement)

    def finish(self) -> None:
        self._pool.shutdown(wait=True)
        failures = [str(f.exception()) for f in self._pending if f.exception() is not None]
        assert not failures, f"dropping test databases failed: {failures}"


@pytest.fixture(scope="session")
def postgres_dropper(request: pytest.FixtureRequest) -> _Dropper:
    """The session's dropper of PostgreSQL databases and schemas.

    It finishes when pytest does (a config cleanup), not in a fixture's teardown: the drops
    left when the last test ends are no part of that test, and must not count against its
    pytest-timeout (PostgreSQL 15 checkpoints at every DROP DATABASE, so a loaded machine
    leaves a backlog).
    """
    dropper = _Dropper()
    request.config.add_cleanup(dropper.finish)
    return dropper


# The tests' own databases are thrown away: their commits need not wait for the WAL to reach
# the disk (PostgreSQL's synchronous_commit, per connection; durability only, no visibility
# or isolation changes). The production URLs keep the server's default.
_NO_COMMIT_FLUSH = "-csynchronous_commit=off"


def _postgres_schema_url(dropper: _Dropper) -> Iterator[str]:
    """A URL whose connections work in a fresh, empty schema; the schema is dropped afterwards."""
    base = postgres_base_url()
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    url = make_url(base).update_query_dict(
        {"options": f"-csearch_path={schema} {_NO_COMMIT_FLUSH}"}
    )
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        dropper.drop(f"DROP SCHEMA {schema} CASCADE")


def _postgres_database_url(name: str) -> str:
    url = make_url(postgres_base_url()).set(database=name)
    url = url.update_query_dict({"options": _NO_COMMIT_FLUSH})
    return url.render_as_string(hide_password=False)


def _drop_database(name: str) -> str:
    # FORCE: a connection a test left open must not keep the database (or hang the run).
    return f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"


def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every migration applied, made once per test process."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template(request: pytest.FixtureRequest) -> str:
    """A PostgreSQL database with every migration applied, made once per test process.

    Its name is unique to this process (pytest-xdist workers each make their own), and nothing
    stays connected to it: CREATE DATABASE ... TEMPLATE needs the template to itself.
    """
    _require_postgres()
    name = f"ds_template_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_base_url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    request.config.add_cleanup(lambda: _Dropper._run(_drop_database(name)))
    _migrate(_postgres_database_url(name))
    return name


def _own_tcp_clients(server_port: int) -> set[int]:
    """The local ports of this process's established TCP connections to server_port (Linux:
    /proc). A backend whose client port is one of them is this process's connection: the
    kernel gives one local port to two connections only when they go to different places.
    A connection over a Unix socket has no port, and is never matched."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # a descriptor closed meanwhile
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with contextlib.suppress(OSError), open(table, encoding="ascii") as lines:
            next(lines)  # the heading
            for line in lines:
                # sl, local address:port, remote address:port, state (01: established), ...
                fields = line.split()
                remote = int(fields[2].rsplit(":", 1)[1], 16)
                if fields[9] in inodes and fields[3] == "01" and remote == server_port:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class _PostgresPool:
    """This test process's migrated PostgreSQL databases, emptied after a test and used again.

    A database copied from the template costs PostgreSQL a file copy and, when dropped, a
    checkpoint (about half a second of the server's time on this machine, for every test on
    PostgreSQL); emptying one costs one DELETE per table (tens of milliseconds). A database
    is used again only when it is exactly as the template made it but for its rows: the same
    tables, columns and migration; otherwise (a test changed the schema) it is dropped, and
    the next test gets a fresh copy. No test ever sees another's rows or connections.
    """

    _SHAPE = """
        SELECT (SELECT version_num FROM alembic_version),
               md5(string_agg(table_name || '.' || column_name || ':' || data_type, ','
                              ORDER BY table_name, column_name))
        FROM information_schema.columns WHERE table_schema = 'public'
    """

    def __init__(self, template: str, dropper: _Dropper) -> None:
        self._template = template
        self._dropper = dropper
        self._free: list[str] = []
        self._shape: tuple[object, ...] | None = None
        self._script: str | None = None

    def take(self) -> str:
        """The name of an empty migrated database, this caller's until it gives it back."""
        if self._free:
            return self._free.pop()
        name = f"ds_test_{secrets.token_hex(6)}"
        with psycopg.connect(postgres_base_url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name} TEMPLATE {self._template}")
        if self._shape is None:
            with psycopg.connect(_postgres_database_url(name)) as connection:
                self._shape = tuple(connection.execute(self._SHAPE).fetchone() or ())
        return name

    def give_back(self, name: str) -> None:
        """Empty the database for the next test, or drop it when it cannot be made as new.

        Fails (the test's teardown) when this process still had a connection open to it: the
        test left a session open, or its engine was disposed of while a thread held one. The
        server ends such a connection here as every other one left; what the garbage collector
        can reach of it now is collected here too, without psycopg's ResourceWarning, which
        would otherwise fail whichever later test was running when it was collected.
        """
        left_open: list[int] = []
        try:
            emptied = self._empty(name, left_open)
        except psycopg.Error:
            emptied = False
        if emptied:
            self._free.append(name)
        else:
            self._dropper.drop(_drop_database(name))
        if left_open:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ResourceWarning)
                gc.collect()
        assert not left_open, (
            f"the test left {len(left_open)} connection(s) of this process open to its "
            f"database (backends {left_open}): close its sessions, and stop its threads "
            "before disposing of an engine"
        )

    def drop_all(self) -> None:
        while self._free:
            self._dropper.drop(_drop_database(self._free.pop()))

    _OTHERS = "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"

    def _alone(self, name: str, left_open: list[int]) -> bool:
        """Whether no other connection is open to name (after ending those a test left); the
        backends whose client is a connection of this process are added to left_open (not a
        node process's, nor one whose client had closed it while its backend was ending)."""
        with psycopg.connect(postgres_base_url(), autocommit=True) as admin:
            clients = admin.execute(f"SELECT pid, client_port {self._OTHERS}", [name]).fetchall()
            if not clients:
                return True
            ours = _own_tcp_clients(admin.info.port)
            left_open.extend(pid for pid, port in clients if port in ours)
            admin.execute(f"SELECT pg_terminate_backend(pid) {self._OTHERS}", [name])
            for _ in range(100):
                if admin.execute(f"SELECT count(*) {self._OTHERS}", [name]).fetchone() == (0,):
                    return True
                time.sleep(0.02)
        return False

    def _emptying(self, connection: psycopg.Connection[Any]) -> str:
        """The statements that empty a database of the template's shape: one DELETE per table
        and a restart of each sequence, in one transaction; the foreign keys' triggers are off
        in it, so rows go in any order. The same for every database of the pool (their shape
        is checked first), so they are read once."""
        if self._script is None:
            tables = connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'alembic_version' ORDER BY tablename"
            ).fetchall()
            sequences = connection.execute(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
                " ORDER BY sequencename"
            ).fetchall()
            self._script = ";".join(
                [
                    "BEGIN",
                    "SET LOCAL session_replication_role = replica",
                    *(f'DELETE FROM "{table}"' for (table,) in tables),
                    *(f'ALTER SEQUENCE "{sequence}" RESTART' for (sequence,) in sequences),
                    "COMMIT",
                ]
            )
        return self._script

    def _empty(self, name: str, left_open: list[int]) -> bool:
        """Whether name is emptied for the next test; the backends of this process's own
        connections that the test left open to it are added to left_open (ended first, as
        every connection left)."""
        # Connections a test left open (a node process killed mid-transaction) go first.
        if not self._alone(name, left_open):
            return False
        with psycopg.connect(_postgres_database_url(name), autocommit=True) as connection:
            connection.execute("SET lock_timeout = '2s'")
            if tuple(connection.execute(self._SHAPE).fetchone() or ()) != self._shape:
                return False
            # One round trip: the statements in one string (no parameters: psycopg sends it
            # as a simple query, run as one transaction by its BEGIN and COMMIT).
            connection.execute(self._emptying(connection))
            # Whatever connected meanwhile (a thread or process of the test still running)
            # could write after the DELETE: such a database is dropped, never given on.
            others = connection.execute(f"SELECT count(*) {self._OTHERS}", [name]).fetchone()
        return others == (0,)


@pytest.fixture(scope="session")
def postgres_pool(
    request: pytest.FixtureRequest, postgres_template: str, postgres_dropper: _Dropper
) -> _PostgresPool:
    """This test process's pool of migrated PostgreSQL databases (dropped when pytest ends)."""
    pool = _PostgresPool(postgres_template, postgres_dropper)
    request.config.add_cleanup(pool.drop_all)  # before the dropper finishes: cleanups are LIFO
    return pool


def _postgres_migrated_url(pool: _PostgresPool) -> Iterator[str]:
    """A URL of an empty migrated database of the pool's; given back to it afterwards."""
    name = pool.take()
    try:
        yield _postgres_database_url(name)
    finally:
        pool.give_back(name)


EMPTY = "empty_database_url"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A SQLAlchemy URL of the test's own database, SQLite or PostgreSQL, every migration applied.

    It is copied from a template migrated once per test process (running every migration for
    every test was most of the suite's time). A test that asks for empty_database_url too gets
    the same database with nothing in it, not even Alembic's table.
    """
    migrated = EMPTY not in request.fixturenames
    if request.param == "sqlite":
        # Outside tmp_path, so that tests creating node or anchor directories there see only
        # their own files.
        path = tmp_path_factory.mktemp("db") / "test.db"
        if migrated:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    _require_postgres()
    dropper = request.getfixturevalue("postgres_dropper")
    if migrated:
        yield from _postgres_migrated_url(request.getfixturevalue("postgres_pool"))
        return
    yield from _postgres_schema_url(dropper)


@pytest.fixture
def migrated_database_url(database_url: str) -> str:
    """database_url, every migration applied (nodes started on it find nothing to do)."""
    return database_url


@pytest.fixture
def empty_database_url(database_url: str) -> str:
    """database_url with nothing in it: for the tests of migrations and of what runs them."""
    return database_url


@pytest.fixture
def more_databases(
    request: pytest.FixtureRequest, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], str]]:
    """Make another migrated database of database_url's kind at each call (for the other nodes
    of a test's federation), copied from the same template; dropped after the test."""
    made: list[Iterator[str]] = []

    def make() -> str:
        if database_url.startswith("sqlite"):
            path = tmp_path_factory.mktemp("db") / "node.db"
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
            return f"sqlite:///{path}"
        copy = _postgres_migrated_url(request.getfixturevalue("postgres_pool"))
        made.append(copy)
        return next(copy)

    yield make
    failures = []
    for copy in made:  # every copy is given back, whichever fails
        try:
            for _ in copy:  # runs the copy's give_back
                pass
        except AssertionError as failure:
            failures.append(failure)
    if failures:
        raise failures[0]


@pytest.fixture
def engine(migrated_database_url: str) -> Iterator[Engine]:
    """An engine on migrated_database_url (the test's database, every migration applied)."""
    engine = make_engine(migrated_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """A session factory on engine; tests own their transactions (with sessions.begin())."""
    return make_sessions(engine)
