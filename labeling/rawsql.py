"""Hand-written SQL for the few statements that run on every annotation request.

Django's ORM spends most of a small request building SQL (about 0.5 ms per statement on these
machines, several times what the database needs to run it). The annotation hot path (token
lookup, membership, next task, submit) therefore uses fixed SQL strings built once per process,
run on Django's own connection (same transactions; on PostgreSQL through a psycopg cursor with
prepared statements, see ``_cursor``, so they do not show in Django's query log) and loaded
back into model instances with the ORM's own value converters, so callers get the same objects
the ORM would have given them. Everything else uses the ORM.

The SQL here is portable between PostgreSQL and SQLite; where one statement can do more on
PostgreSQL (``FOR UPDATE SKIP LOCKED``, data-modifying CTEs) the caller picks the variant with
``connection.vendor``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
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
    """On PostgreSQL, a server-binding psycopg cursor on Django's connection (same transaction)
    whose statements are prepared once per connection: these statements run thousands of
    times, and planning them anew each time cost PostgreSQL more than running them. Errors
    come out as Django's (``IntegrityError`` and so on), as from ``connection.cursor()``.
    Elsewhere (or with QUORUM_PREPARED_STATEMENTS=0, e.g. behind a pooler in transaction mode),
    Django's own cursor."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql" or not _PREPARE:
        with db.cursor() as cursor:
            yield cursor, {}
        return

    db.close_if_health_check_failed()  # as Django's cursor(): once per request, if CONN_HEALTH_CHECKS
    with db.wrap_database_errors:
        yield _kept_cursor(db, _ready(db)), {"prepare": True}


def _kept_cursor(db, raw):
    """One psycopg cursor per connection, kept: a new cursor looks up the loader of every result
    column again (a fifth of a statement's cost on the token query's 50 columns). Callers
    consume the results before the next statement (nothing here is re-entrant)."""
    import psycopg

    cursor = getattr(db, "_quorum_cursor", None)
    if cursor is None or cursor.connection is not raw or cursor.closed:
        cursor = db._quorum_cursor = psycopg.Cursor(raw)
    return cursor


def _ready(db):
    """Django's psycopg connection, connected and not in a broken transaction."""
    db.ensure_connection()
    db.validate_no_broken_transaction()
    raw = db.connection
    if raw.prepare_threshold is None:
        # Django turns automatic preparation off (None); a huge threshold keeps it off for the
        # ORM's statements while ``prepare=True`` below prepares these.
        raw.prepare_threshold = 2**31
    return raw


def fetchone(sql: str, params: Sequence[Any] = (), *, repeatable: bool = False) -> tuple | None:
    """The statement's first row. ``repeatable``: the statement only reads, so as the first of a
    request it stands in for the health check (CONN_HEALTH_CHECKS' ``SELECT 1``, a round trip
    on every request): if the kept connection turns out to be dead (the server restarted, a
    proxy dropped it), it runs once more on a new connection."""
    db = connections[DEFAULT_DB_ALIAS]
    if (repeatable and db.vendor == "postgresql" and _PREPARE and db.connection is not None
            and db.health_check_enabled and not db.health_check_done and not db.in_atomic_block):
        import psycopg

        db.health_check_done = True
        raw = _ready(db)
        try:
            cursor = _kept_cursor(db, raw)
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchone()
        except (psycopg.OperationalError, psycopg.InterfaceError):
            if not (raw.closed or raw.broken):
                with db.wrap_database_errors:
                    raise
            db.close()  # dead: what follows connects anew
    with _cursor() as (cursor, options):
        cursor.execute(sql, params, **options)
        return cursor.fetchone()


def fetchall(sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    with _cursor() as (cursor, options):
        cursor.execute(sql, params, **options)
        return cursor.fetchall()


def execute(sql: str, params: Sequence[Any] = ()) -> int:
    """Run a statement; the number of rows it changed."""
    with _cursor() as (cursor, options):
        cursor.execute(sql, params, **options)
        return cursor.rowcount


def time_param(value: datetime) -> Any:
    """A datetime as this backend stores it (SQLite: naive UTC text, as the ORM writes it)."""
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
        self.items = []
        if not items:
            return None
        if connection.vendor != "postgresql" or len(items) == 1:
            row = None
            for sql, params in items:
                if last is not None and sql is last[0]:
                    row = fetchone(sql, params)
                else:
                    execute(sql, params)
            return row
        head = items[:-1] if last else items
        ctes = ", ".join(f"w{i} AS ({sql})" for i, (sql, _) in enumerate(head))
        params = [p for _, ps in head for p in ps]
        if last:
            return fetchone(f"WITH {ctes} {last[0]}", params + list(last[1]))
        fetchone(f"WITH {ctes} SELECT 1", params)
        return None
