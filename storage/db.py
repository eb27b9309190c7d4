"""Database engines and sessions: `make_engine(url)` is the only place that knows dialects.

SQLite runs in WAL mode with a busy timeout so the callback, the inbox worker and the dispatcher can
write from different threads; PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Engine,
    String,
    Table,
    Text,
    TypeDecorator,
    any_,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> Engine:
    """An engine for `url`; creates the SQLite file's folder when needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite opens transactions lazily and never for SELECT; take control so that
        # BEGIN IMMEDIATE makes claims atomic (the dialect docs' "Serializable isolation" recipe).
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    return create_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, pool_recycle=1800
    )


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def dialect_insert(session: Session) -> Any:
    """The dialect's `insert` construct (it has `on_conflict_do_nothing`) for this session's database."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def one_of(session: Session, column: Any, values: Sequence[Any]) -> Any:
    """`column IN (values)` for a batch: on PostgreSQL `column = ANY(:array)`, one parameter, so the
    statement text stays short and the same for every batch (psycopg parses and caches it once; a
    200-value IN list is re-parsed each time); elsewhere a plain IN list."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(_unbounded(column.type))))
    return column.in_(list(values))


def one_of_param(dialect: str, column: Any, name: str) -> Any:
    """`one_of` with a named parameter, for a statement built once and run with {name: values}."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(_unbounded(column.type))))
    return column.in_(bindparam(name, expanding=True))


def insert_many(session: Session, table: Table, rows: Sequence[dict[str, Any]], *, conflict: Sequence[str] = ()) -> Any:
    """A multi-row INSERT (column -> value dicts, all with the same keys), ON CONFLICT (conflict) DO
    NOTHING when given; returns the statement to add `.returning(...)` to and the parameters.

    On PostgreSQL `INSERT ... SELECT * FROM unnest(:col1, :col2, ...)`: one array per column, so the
    statement is the same short text whatever the row count (no VALUES list for psycopg to parse
    and SQLAlchemy to split). Elsewhere the ordinary executemany, which SQLAlchemy sends as multi-row
    VALUES ("insertmanyvalues").
    """
    insert = dialect_insert(session)
    if session.get_bind().dialect.name != "postgresql":
        stmt = insert(table)
        return (stmt.on_conflict_do_nothing(index_elements=list(conflict)) if conflict else stmt), list(rows)
    columns = list(rows[0])
    # JSON values travel as their text in a TEXT[] and are cast back per row: an array of JSON
    # documents would read a list value ([] or [1, 2]) as a nested array.
    as_json = {c for c in columns if isinstance(table.c[c].type, JSON)}
    arrays = [bindparam(c, type_=ARRAY(Text() if c in as_json else _unbounded(table.c[c].type))) for c in columns]
    source = func.unnest(*arrays).table_valued(*columns).render_derived()
    picked = [cast(source.c[c], table.c[c].type) if c in as_json else source.c[c] for c in columns]
    stmt = insert(table).from_select(columns, select(*picked))
    if conflict:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict))
    return stmt, {c: [json.dumps(row[c]) if c in as_json else row[c] for row in rows] for c in columns}


def _unbounded(type_: Any) -> Any:
    """The column's type without its length, for an array parameter: a cast to VARCHAR(200)[]
    silently truncates a longer value, while the insert into the column refuses it (as VALUES does)."""
    impl = type_.impl if isinstance(type_, TypeDecorator) else type_
    if isinstance(impl, String) and impl.length is not None:
        return type(type_)()  # String(n) -> String(); ChatString(n) -> ChatString(), same processing
    return type_


def insert_ignoring_conflict(session: Session, model: Any, *, conflict: Sequence[str], **values: Any) -> bool:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING; True when this call inserted the row. Never commits.

    One statement rather than read-then-write or catching IntegrityError: WeCom retries and replicas
    race on these keys, and on PostgreSQL a concurrent inserter waits for the first transaction and
    then sees the conflict without aborting its own. RETURNING, not rowcount: an ORM-executed insert
    reports rowcount -1 on psycopg 3.
    """
    primary_key = model.__mapper__.primary_key[0]
    stmt = (
        dialect_insert(session)(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(primary_key)
    )
    return session.execute(stmt).scalar_one_or_none() is not None
