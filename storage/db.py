"""Database engines and sessions: `make_engine(url)` is the only place that knows dialects.

SQLite runs in WAL mode with a busy timeout so the callback, the inbox worker and the dispatcher can
write from different threads; PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Date,
    DateTime,
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
from sqlalchemy import column as sql_column
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


class KeptConnection:
    """One PostgreSQL connection kept open for one writer (the inbox's group commit): each `session()`
    is a transaction on it, without the pool checkout, pre-ping and isolation switch of a new session.

    It runs in autocommit: the group commit is one statement, its own transaction and durable when
    it returns, so BEGIN and COMMIT would be two more round trips. An error drops the connection and
    the next session connects again: a database restart costs one failed batch (503, and WeCom
    retries), where the pre-ping cost a round trip on every batch. On SQLite, where a connection is
    a local file handle, each session takes a pooled one as before (BEGIN IMMEDIATE orders writers,
    and `engine.dispose()` still releases them all).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        if self._engine.dialect.name != "postgresql":
            with Session(bind=self._engine, expire_on_commit=False) as session:
                yield session
            return
        with self._lock:
            if self._connection is None:
                self._connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                with Session(bind=self._connection, expire_on_commit=False) as session:
                    yield session
            except BaseException:
                self._drop()
                raise

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # already broken: nothing more to release
                connection.close()


def insert_many(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str] = (),
    same: dict[str, Any] | None = None,
    returning: Sequence[str] = (),
) -> tuple[Any, Any]:
    """A multi-row INSERT (column -> value dicts, all with the same keys), ON CONFLICT (conflict) DO
    NOTHING when given, RETURNING the `returning` columns; returns the statement and its parameters.
    `same` holds the columns whose value is the same in every row (sent once, not once per row).

    On PostgreSQL `INSERT ... SELECT ... FROM json_to_recordset(:rows) AS r(col type, ...)`: the rows
    travel as one JSON document (json.dumps, in C), and the statement is the same short text whatever
    the row count. psycopg would otherwise build an array literal per column in Python, testing and
    escaping every element: that was a sixth of the inbox worker's time and most of a callback's
    group commit. Elsewhere the ordinary executemany, which SQLAlchemy sends as multi-row VALUES
    ("insertmanyvalues"). The statement is built once per shape (`_insert_statement`).
    """
    same = same or {}
    dialect = session.get_bind().dialect
    columns = tuple(rows[0])
    stmt = _insert_statement(dialect.name, table, columns, tuple(conflict), tuple(same), tuple(returning))
    if dialect.name != "postgresql":
        return stmt, [{**row, **same} for row in rows] if same else list(rows)
    # The columns' own bind processing (UTC datetimes, NUL in chat text) first, as for any insert;
    # JSON columns keep their Python value, nested in the document as JSON.
    processors = _bind_processors(dialect, table, columns)
    document: Sequence[dict[str, Any]] = rows
    if processors:
        document = [dict(row) for row in rows]
        for row in document:
            for c, process in processors:
                if (value := row[c]) is not None:
                    row[c] = process(value)
    return stmt, {
        "rows": json.dumps(document, ensure_ascii=False, separators=(",", ":")),
        **{f"same_{c}": value for c, value in same.items()},
    }


def _bind_processors(dialect: Any, table: Table, columns: tuple[str, ...]) -> list[tuple[str, Any]]:
    """(column, processor) for the columns whose values need converting before they are sent: the
    type's own bind processing (JSON columns excepted: their value is nested as it is), then, for
    dates and times, the ISO text PostgreSQL reads (json.dumps would otherwise call back into Python
    for each of them)."""
    found = []
    for c in columns:
        column_type = table.c[c].type
        process = None if isinstance(column_type, JSON) else column_type.bind_processor(dialect)
        impl = column_type.impl if isinstance(column_type, TypeDecorator) else column_type
        if isinstance(impl, DateTime | Date):
            process = _then_iso(process)
        if process is not None:
            found.append((c, process))
    return found


def _then_iso(process: Any) -> Any:
    if process is None:
        return lambda value: value.isoformat()
    return lambda value: None if (bound := process(value)) is None else bound.isoformat()


def json_records(param: str, name: str, columns: Sequence[Any]) -> Any:
    """PostgreSQL's `json_to_recordset(:param) AS name(col type, ...)`: many rows bound as one JSON
    document (a list of objects, json.dumps'd), the same statement text whatever their number."""
    return (
        func.json_to_recordset(cast(bindparam(param, type_=Text()), JSON))
        .table_valued(*columns)
        .render_derived(name=name, with_types=True)
    )


@functools.cache
def _insert_statement(
    dialect: str,
    table: Table,
    columns: tuple[str, ...],
    conflict: tuple[str, ...],
    same: tuple[str, ...],
    returning: tuple[str, ...],
) -> Any:
    """`insert_many`'s statement for one shape, kept: building it and computing its cache key cost
    more than running it for a small batch (a callback's group commit). A bounded set: one per call
    site."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    if dialect != "postgresql":
        stmt = insert(table)
    else:
        # Unbounded types in the record: the INSERT itself refuses a value too long for its column
        # (a cast to VARCHAR(200) would truncate it silently).
        record = json_records("rows", "r", [sql_column(c, _unbounded(table.c[c].type)) for c in columns])
        constants = [bindparam(f"same_{c}", type_=table.c[c].type) for c in same]
        stmt = insert(table).from_select([*columns, *same], select(*record.c, *constants))
    if conflict:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict))
    if returning:
        stmt = stmt.returning(*(table.c[c] for c in returning))
    return stmt


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
