"""Hand-written SQL for the few statements that run on every annotation request.

Django's ORM spends most of a small request building SQL (about 0.5 ms per statement on these
machines, several times what the database needs to run it). The annotation hot path (token
lookup, membership, next task, submit) therefore uses fixed SQL strings built once per process,
run on Django's own connection (same transactions) and loaded back into model instances with
the ORM's own value converters, so callers get the same objects the ORM would have given them.
On PostgreSQL they go through libpq directly (``_wire``: psycopg's ``pgconn``, each statement
prepared once per connection, parameters and results as text), which costs a fraction of a
psycopg cursor's Python per statement; they do not show in Django's query log. Everything
else uses the ORM.

The SQL here is portable between PostgreSQL and SQLite; where one statement can do more on
PostgreSQL (``FOR UPDATE SKIP LOCKED``, data-modifying CTEs) the caller picks the variant with
``connection.vendor``.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import date, datetime
from datetime import timezone as dt_timezone
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, ProgrammingError, connection, connections, models
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

# ``django.db.connection`` is a proxy that looks the thread's connection up on every attribute
# access (tens of times per request here); the functions below look it up once per call.


def q(name: str) -> str:
    """A quoted identifier (table or column)."""
    return connection.ops.quote_name(name)


def table(model: type[models.Model]) -> str:
    return q(model._meta.db_table)


_PREPARE = settings.QUORUM.get("PREPARED_STATEMENTS", True)


@contextmanager
def _cursor():
    """Django's own cursor (SQLite, or QUORUM_PREPARED_STATEMENTS=0, e.g. behind a pooler in
    transaction mode); on PostgreSQL the statements go through :func:`_wire` instead."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        yield cursor


def _wired(db) -> bool:
    return db.vendor == "postgresql" and _PREPARE


def _ready(db):
    """Django's psycopg connection, connected and not in a broken transaction."""
    db.ensure_connection()
    db.validate_no_broken_transaction()
    return db.connection


class _Statement:
    """One statement as prepared on a connection: its name, its SQL with ``$n`` placeholders and
    the parameter types it was prepared with (a statement run with other types is another one)."""

    __slots__ = ("name", "query", "types", "decoders")

    def __init__(self, name: bytes, query: bytes, types: tuple[int, ...]) -> None:
        self.name, self.query, self.types = name, query, types
        self.decoders: list | None = None  # per result column, from the first result


_STATEMENTS: dict[tuple[str, tuple[int, ...]], _Statement] = {}
_NAMES = itertools.count()  # next() on it is atomic under the GIL


def _statement(sql: str, types: tuple[int, ...]) -> _Statement:
    found = _STATEMENTS.get((sql, types))
    if found is None:
        parts = re.split(r"(%s|%%)", sql)
        out, n = [], 0
        for part in parts:
            if part == "%s":
                n += 1
                out.append(f"${n}")
            elif part == "%%":
                out.append("%")
            else:
                out.append(part)
        if n != len(types):
            raise ProgrammingError(f"the statement has {n} placeholders but {len(types)} parameters were given")
        # (a name from a counter, never len(): two threads may add statements at once)
        found = _STATEMENTS[(sql, types)] = _Statement(b"quorum_%d" % next(_NAMES), "".join(out).encode(), types)
    return found


class _Wire:
    """The statements prepared on one psycopg connection (kept on Django's connection wrapper,
    replaced with the connection). psycopg itself prepares nothing on these connections (Django
    leaves its prepare threshold off), so no rollback of psycopg's (which deallocates all
    prepared statements when psycopg has any) takes these away."""

    __slots__ = ("raw", "pgconn", "prepared")

    def __init__(self, raw) -> None:
        self.raw, self.pgconn, self.prepared = raw, raw.pgconn, set()

    @staticmethod
    def of(db) -> _Wire:
        """The wire of Django's connection ``db``, connected and not in a broken transaction."""
        raw = _ready(db)
        wire = getattr(db, "_quorum_wire", None)
        if wire is None or wire.raw is not raw:
            wire = db._quorum_wire = _Wire(raw)
        return wire

    def prepare(self, stmt: _Statement, psycopg) -> None:
        """Prepare ``stmt`` on this connection unless it already is."""
        if stmt.name not in self.prepared:
            _check(self.pgconn.prepare(stmt.name, stmt.query, stmt.types), self.pgconn, psycopg)
            self.prepared.add(stmt.name)

    def begin_statement(self) -> bytes | None:
        """psycopg's BEGIN when psycopg would send one now (outside autocommit, no transaction)."""
        if not self.raw.autocommit and self.pgconn.transaction_status == _IDLE:
            return self.raw._get_tx_start_command()
        return None

    def deallocated(self, result) -> bool:
        """Whether ``result`` failed because the statement was deallocated behind our back (a
        DISCARD ALL, or psycopg's rollback if something made psycopg prepare on this connection);
        then every statement of this connection is prepared again on its next use."""
        if result.status == _FATAL_ERROR and result.error_field(_SQLSTATE) == b"26000":
            self.prepared.clear()
            return True
        return False


def _wire(sql: str, params: Sequence[Any], db=None):
    """Run ``sql`` on PostgreSQL through libpq directly (psycopg's ``pgconn``), as a statement
    prepared once per connection; returns the libpq result and the statement.

    psycopg's cursor spends about 50 us of Python per statement on things these few fixed
    statements do not need (a transformer per result, dumpers looked up per parameter, result
    loaders instantiated per column); here the parameters are encoded as text by their Python
    type, the server parses them with the types psycopg would have declared, and the results
    come back as text and are decoded by column type (:func:`_decoder`). libpq releases the GIL
    while it waits for the server. The transaction follows psycopg's own rules: outside
    autocommit, a BEGIN (psycopg's, with its isolation level) before the first statement."""
    import psycopg

    wire = _Wire.of(db or connections[DEFAULT_DB_ALIAS])
    types, values = _encode(params)
    stmt = _statement(sql, types)
    pgconn = wire.pgconn
    begin = wire.begin_statement()
    if begin is not None:
        _check(pgconn.exec_(begin), pgconn, psycopg)
    wire.prepare(stmt, psycopg)
    result = pgconn.exec_prepared(stmt.name, values)
    if wire.deallocated(result) and pgconn.transaction_status == _IDLE:
        # Outside a transaction, preparing again and retrying is safe; inside one the error
        # stands (the transaction is lost).
        wire.prepare(stmt, psycopg)
        result = pgconn.exec_prepared(stmt.name, values)
    return _check(result, pgconn, psycopg), stmt


def _check(result, pgconn, psycopg):
    if result.status in (_TUPLES_OK, _COMMAND_OK):
        return result
    if pgconn.status == _BAD:
        raise psycopg.OperationalError(f"the connection to the database was lost: "
                                       f"{pgconn.get_error_message()}")
    raise psycopg.errors.error_from_result(result)


def _rows(result, stmt: _Statement) -> list[tuple]:
    decoders = stmt.decoders
    if decoders is None:
        decoders = stmt.decoders = [_decoder(result.ftype(j)) for j in range(result.nfields)]
    get = result.get_value
    rows = []
    for i in range(result.ntuples):
        row = []
        for j, decode in enumerate(decoders):
            value = get(i, j)
            row.append(None if value is None else decode(value))
        rows.append(tuple(row))
    return rows


def _run(sql: str, params: Sequence[Any], one: bool, db):
    with db.wrap_database_errors:
        result, stmt = _wire(sql, params, db)
        if one:
            rows = _rows(result, stmt) if result.ntuples else []
            return rows[0] if rows else None
        return _rows(result, stmt)


def fetchone(sql: str, params: Sequence[Any] = (), *, repeatable: bool = False) -> tuple | None:
    """The statement's first row. ``repeatable``: the statement only reads, so as the first of a
    request it stands in for the health check (CONN_HEALTH_CHECKS' ``SELECT 1``, a round trip
    on every request): if the kept connection turns out to be dead (the server restarted, a
    proxy dropped it), it runs once more on a new connection."""
    db = connections[DEFAULT_DB_ALIAS]
    if not _wired(db):
        with _cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    if (repeatable and db.connection is not None and db.health_check_enabled and not db.health_check_done
            and not db.in_atomic_block):
        import psycopg

        db.health_check_done = True
        try:
            result, stmt = _wire(sql, params, db)
        except psycopg.OperationalError:
            raw = db.connection
            if raw is not None and not (raw.closed or raw.broken):
                with db.wrap_database_errors:
                    raise
            db.close()  # dead: what follows connects anew
        except psycopg.Error:
            with db.wrap_database_errors:
                raise
        else:
            rows = _rows(result, stmt)
            return rows[0] if rows else None
    return _run(sql, params, True, db)


def fetchall(sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    db = connections[DEFAULT_DB_ALIAS]
    if not _wired(db):
        with _cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    return _run(sql, params, False, db)


def execute(sql: str, params: Sequence[Any] = ()) -> int:
    """Run a statement; the number of rows it changed."""
    db = connections[DEFAULT_DB_ALIAS]
    if not _wired(db):
        with _cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount
    with db.wrap_database_errors:
        result, _ = _wire(sql, params, db)
        count = result.command_tuples
        return -1 if count is None else count


COMMIT = object()  #: a step of :func:`fetch_many`: commit the transaction there


def pipelines() -> bool:
    """Whether :func:`fetch_many` sends its steps in one round trip (and takes COMMIT/then)."""
    return _wired(connections[DEFAULT_DB_ALIAS])


def fetch_many(steps: Sequence[Any], *, then: tuple[str, Sequence[Any]] | None = None) -> list:
    """Several statements in one round trip on PostgreSQL; the rows of each, in order.

    ``steps``: ``(sql, params)`` pairs, and possibly :data:`COMMIT` (only in the outermost
    transaction, when the caller is done with it: Django's own commit at the end of the atomic
    block then finds nothing left to commit; its slot in the result is ``None``). ``then``: one
    more statement after that COMMIT, in a transaction of its own; its slot holds its rows, or
    the exception it raised (Django's), or ``None`` when an earlier step failed and it did not
    run: the caller's transaction is over by then, so that error is not raised here.

    The server runs the statements one after the other, each with its own snapshot (READ
    COMMITTED), exactly as if they were sent one by one; only the waiting for each answer is
    saved (libpq's pipeline mode, the GIL released while waiting). BEGIN is sent first when
    psycopg would send it (outside autocommit, no transaction open). The first error of the
    steps is raised (as Django's exception) once the whole pipeline is read; the statements
    after it did not run. Elsewhere (SQLite, or QUORUM_PREPARED_STATEMENTS=0) the steps run one
    by one, with the same results."""
    db = connections[DEFAULT_DB_ALIAS]
    if not _wired(db):
        if then is not None or any(step is COMMIT for step in steps):
            raise ProgrammingError("COMMIT and then need the pipelined path (see pipelines())")
        out: list = []
        for sql, params in steps:
            with _cursor() as cursor:
                cursor.execute(sql, params)
                out.append(cursor.fetchall() if cursor.description else None)
        return out
    with db.wrap_database_errors:
        out, errors = _pipeline(db, list(steps) + ([then] if then is not None else []))
    first = min(errors, default=None)
    if then is not None and first == len(steps):  # only ``then`` failed: the steps are committed
        try:
            with db.wrap_database_errors:
                _raise(errors[first], db)
        except DatabaseError as exc:
            out[first] = exc
    elif first is not None:
        with db.wrap_database_errors:
            _raise(errors[first], db)
    return out


def _raise(result, db) -> None:
    import psycopg

    db._quorum_wire.deallocated(result)
    _check(result, db._quorum_wire.pgconn, psycopg)


def _pipeline(db, steps: list) -> tuple[list, dict[int, Any]]:
    """Send ``steps`` in one pipeline; (their rows, {step index: failed result})."""
    import select

    import psycopg

    wire = _Wire.of(db)
    pgconn = wire.pgconn
    sends: list[tuple[int | None, Any, Any]] = []  # (step index or None for BEGIN, what, values)
    begin = wire.begin_statement()
    if begin is not None:
        sends.append((None, begin, None))
    for index, step in enumerate(steps):
        if step is COMMIT:
            sends.append((index, b"COMMIT", None))
            continue
        types, values = _encode(step[1])
        stmt = _statement(step[0], types)
        wire.prepare(stmt, psycopg)  # once per connection, before the pipeline
        sends.append((index, stmt, values))
    fd = pgconn.socket

    def result():
        while pgconn.is_busy():
            select.select([fd], [], [])
            pgconn.consume_input()
        return pgconn.get_result()

    out: list = [None] * len(steps)
    errors: dict[int, Any] = {}
    try:
        pgconn.enter_pipeline_mode()
        for _, what, values in sends:
            if isinstance(what, bytes):
                pgconn.send_query_params(what, None)
            else:
                pgconn.send_query_prepared(what.name, values)
        pgconn.pipeline_sync()
        while pgconn.flush():
            select.select([], [fd], [])
        for index, what, _ in sends:
            res = result()
            while result() is not None:  # the end of this statement's results
                pass
            if res.status in (_TUPLES_OK, _COMMAND_OK):
                if index is not None and not isinstance(what, bytes) and res.status == _TUPLES_OK:
                    out[index] = _rows(res, what)  # (None for a statement that returns no rows)
            elif res.status != _PIPELINE_ABORTED and not errors:
                errors[-1 if index is None else index] = res
        res = result()
        while res is None or res.status != _PIPELINE_SYNC:  # up to the sync
            res = result()
        pgconn.exit_pipeline_mode()
    except BaseException:
        # The protocol state is unknown (the server went away, an interrupt): drop the
        # connection rather than use it again; Django connects anew.
        db.close()
        raise
    return out, errors


# --- text encoding of parameters and decoding of results (PostgreSQL) ---------------------------
# The parameter types are those psycopg declares for the same Python values (int8 for ints that
# fit, numeric beyond; text values as "unknown", typed by the statement), so a statement means
# the same here as through a psycopg cursor.

# libpq's PQTRANS_IDLE, PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_FATAL_ERROR, CONNECTION_BAD, PG_DIAG_SQLSTATE
_IDLE, _TUPLES_OK, _COMMAND_OK, _FATAL_ERROR, _BAD, _SQLSTATE = 0, 2, 1, 7, 1, ord("C")
_PIPELINE_SYNC, _PIPELINE_ABORTED = 10, 11  # libpq's PGRES_PIPELINE_SYNC, PGRES_PIPELINE_ABORTED
_INT8, _NUMERIC, _FLOAT8, _BOOL, _UNKNOWN, _TIMESTAMPTZ, _TIMESTAMP, _DATE = 20, 1700, 701, 16, 0, 1184, 1114, 1082
_JSON, _JSONB, _INT8_ARRAY = 114, 3802, 1016


_PLAIN = frozenset((int, str, bool, float, datetime, list))


def _encode(params: Sequence[Any]) -> tuple[tuple[int, ...], list[bytes | None]]:
    from psycopg.types.json import Json, Jsonb

    types, values = [], []
    for value in params:
        kind = type(value)
        if kind not in _PLAIN and value is not None:  # str and int enums (TextChoices...), subclasses
            for base in (bool, int, str, float, datetime, date, Decimal, list):
                if isinstance(value, base):
                    if base in (bool, int, str, float):  # numpy's float64 is a float, and so on
                        value = base(value) if base is not str else str.__str__(value)
                    kind = base
                    break
        if value is None:
            types.append(_UNKNOWN)
            values.append(None)
        elif kind is int:
            types.append(_INT8 if -2**63 <= value < 2**63 else _NUMERIC)
            values.append(b"%d" % value)
        elif kind is str:
            data = value.encode()
            if b"\x00" in data:
                from django.db import DataError

                raise DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
            types.append(_UNKNOWN)
            values.append(data)
        elif kind is bool:
            types.append(_BOOL)
            values.append(b"t" if value else b"f")
        elif kind is float:
            types.append(_FLOAT8)
            values.append(repr(value).encode())
        elif kind is datetime:
            types.append(_TIMESTAMP if value.tzinfo is None else _TIMESTAMPTZ)
            values.append(value.isoformat().encode())
        elif kind is Jsonb or kind is Json:
            dumps = value.dumps or json.dumps
            data = dumps(value.obj)
            types.append(_JSONB if kind is Jsonb else _JSON)
            values.append(data.encode() if isinstance(data, str) else bytes(data))
        elif kind is list and all(type(v) is int and -2**63 <= v < 2**63 for v in value):
            types.append(_INT8_ARRAY)
            values.append(b"{" + b",".join(b"%d" % v for v in value) + b"}")
        elif kind is Decimal:
            types.append(_NUMERIC)
            values.append(str(value).encode())
        elif kind is date:
            types.append(_DATE)
            values.append(value.isoformat().encode())
        else:
            raise ProgrammingError(f"rawsql cannot send a parameter of type {kind.__name__}")
    return tuple(types), values


def _utc_timestamp(data: bytes) -> datetime:
    value = datetime.fromisoformat(data.decode())
    return value if value.utcoffset() else value.replace(tzinfo=dt_timezone.utc)


def _decoder(oid: int):
    """bytes (a column in text format) -> the value psycopg gives with Django's loaders (jsonb
    stays text, timestamptz is an aware datetime in the connection's time zone, UTC)."""
    if oid in (20, 21, 23, 26):  # int8, int2, int4, oid
        return int
    if oid == 16:
        return _BOOL_TEXT.__getitem__
    if oid in (700, 701):
        return float
    if oid in (25, 1043, 1042, 19, 3802):  # text, varchar, bpchar, name, jsonb (Django: as text)
        return bytes.decode
    if oid == 114:  # json: psycopg's loader (Django replaces only jsonb's)
        return json.loads
    if oid == 1184:
        return _utc_timestamp
    if oid == 1114:
        return lambda data: datetime.fromisoformat(data.decode())
    if oid == 1082:
        return lambda data: date.fromisoformat(data.decode())
    if oid == 1700:
        return lambda data: Decimal(data.decode())
    return _psycopg_loader(oid)


_BOOL_TEXT = {b"t": True, b"f": False}


def _psycopg_loader(oid: int):
    """Anything else: psycopg's own text loader for that type on this connection."""
    from psycopg.pq import Format

    raw = connections[DEFAULT_DB_ALIAS].connection
    loader = raw.adapters.get_loader(oid, Format.TEXT)
    if loader is None:
        return bytes.decode
    return loader(oid, raw).load


def _postgresql() -> bool:
    """Whether the default database is PostgreSQL (fixed for the life of the process)."""
    global _IS_POSTGRESQL
    if _IS_POSTGRESQL is None:
        _IS_POSTGRESQL = connections[DEFAULT_DB_ALIAS].vendor == "postgresql"
    return _IS_POSTGRESQL


_IS_POSTGRESQL: bool | None = None


def time_param(value: datetime) -> Any:
    """A datetime as this backend stores it (SQLite: naive UTC text, as the ORM writes it;
    PostgreSQL: the datetime itself)."""
    if _postgresql():
        return value
    return connections[DEFAULT_DB_ALIAS].ops.adapt_datetimefield_value(value)


def json_param(value: Any) -> Any:
    """A value for a JSON column, as the ORM would send it."""
    return connections[DEFAULT_DB_ALIAS].ops.adapt_json_value(value, None)


def json_value(raw: Any) -> Any:
    """A JSON column read by a raw cursor (text on both backends with Django's loaders)."""
    if raw is None or not isinstance(raw, (str, bytes, bytearray)):
        return raw
    return json.loads(raw)


def time_value(raw: Any) -> datetime | None:
    """A datetime column read by a raw cursor, as the ORM would return it (aware, UTC)."""
    if raw is None:
        return None
    if isinstance(raw, datetime) and raw.tzinfo is not None:
        return raw
    from labeling.models import Lease

    field = Lease._meta.get_field("expires_at")  # any DateTimeField: the converters are by type
    col = field.get_col(field.model._meta.db_table)
    value = raw
    for converter in _converters(field, field.model._meta.db_table):
        value = converter(value, col, connections[DEFAULT_DB_ALIAS])
    return value


def _converters(field: models.Field, alias: str) -> list:
    col = field.get_col(alias)
    return connection.ops.get_db_converters(col) + field.get_db_converters(connection)


class Loader:
    """Selects a model's concrete columns under an alias and builds instances from the rows, with
    the ORM's converters (JSON, datetimes, booleans on SQLite), as ``Model.from_db`` expects.
    ``defer``: fields left out, as ``QuerySet.defer`` would (read on first access)."""

    def __init__(self, model: type[models.Model], alias: str, defer: Sequence[str] = ()) -> None:
        self.model = model
        self.alias = alias
        self.fields = [f for f in model._meta.concrete_fields if f.name not in defer]
        self.attnames = [f.attname for f in self.fields]
        self.columns = ", ".join(f"{q(alias)}.{q(f.column)}" for f in self.fields)
        self.width = len(self.fields)
        self._conv: list[list] | None = None
        self._vendor: str | None = None

    def load(self, row: Sequence[Any], start: int = 0, db=None) -> models.Model:
        db = db or connections[DEFAULT_DB_ALIAS]
        if self._conv is None or self._vendor != db.vendor:
            self._conv = [(i, _converters(f, self.alias), f.get_col(self.alias))
                          for i, f in enumerate(self.fields)]
            self._conv = [c for c in self._conv if c[1]]
            self._vendor = db.vendor
        values = list(row[start:start + self.width])
        for i, converters, col in self._conv:
            if values[i] is not None:
                for converter in converters:
                    values[i] = converter(values[i], col, db)
        return build(self.model, self.attnames, values)


def build(model: type[models.Model], attnames: Sequence[str], values: Sequence[Any]) -> models.Model:
    """``model.from_db("default", attnames, values)`` without the per-field ``setattr`` walk of
    ``Model.__init__`` (a fifth of the token lookup): the values go straight into the instance's
    ``__dict__``, which is where ``__init__`` puts them (the field descriptors of these models
    only read, or, for foreign-key ids, clear a related-object cache a new instance does not
    have). Fields not in ``attnames`` are deferred, as with ``from_db``. Models with
    ``pre_init``/``post_init`` receivers go through ``from_db``."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return model.from_db(DEFAULT_DB_ALIAS, attnames, values)
    instance = model.__new__(model)
    state = instance._state = ModelState()
    state.adding = False
    state.db = DEFAULT_DB_ALIAS
    instance.__dict__.update(zip(attnames, values))
    return instance


def set_related(instance: models.Model, name: str, value: models.Model) -> None:
    """``instance.<name> = value`` for a foreign key whose id the instance already holds (both
    were read by one join): caches ``value`` without the descriptor's router and type checks."""
    instance._meta.get_field(name).set_cached_value(instance, value)


class Writes:
    """Writes to run together: on PostgreSQL as one statement (data-modifying CTEs: one round
    trip, one plan), elsewhere one after the other. The statements must touch different rows
    (within one statement none sees another's changes). ``run(last)`` runs ``last`` (e.g. an
    INSERT ... RETURNING) after them and returns its first row."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Sequence[Any]]] = []

    def add(self, sql: str, params: Sequence[Any]) -> None:
        self.items.append((sql, params))

    def run(self, last: tuple[str, Sequence[Any]] | None = None) -> tuple | None:
        items = self.items + ([last] if last else [])
        if not items:
            return None
        if connection.vendor != "postgresql" or len(items) == 1:
            self.items = []
            row = None
            for sql, params in items:
                if last is not None and sql is last[0]:
                    row = fetchone(sql, params)
                else:
                    execute(sql, params)
            return row
        return fetchone(*self.statement(last))

    def statement(self, last: tuple[str, Sequence[Any]] | None = None) -> tuple[str, list]:
        """PostgreSQL: the one statement ``run`` would send (and the writes are taken)."""
        head, self.items = self.items, []
        if not head:
            assert last is not None
            return last[0], list(last[1])
        ctes = ", ".join(f"w{i} AS ({sql})" for i, (sql, _) in enumerate(head))
        params = [p for _, ps in head for p in ps]
        if last:
            return f"WITH {ctes} {last[0]}", params + list(last[1])
        return f"WITH {ctes} SELECT 1", params
