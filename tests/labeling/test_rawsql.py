"""The hand-written statements' own execution on PostgreSQL (``rawsql._wire``: libpq directly,
prepared once per connection): the same values in and out as through a psycopg cursor with
Django's loaders, Django's exceptions, psycopg's transaction rules."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pytest
from django.db import DataError, IntegrityError, connection, transaction

from labeling import rawsql
from labeling.models import ItemStatus

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the libpq path: PostgreSQL"),
]

_VALUES_SQL = ("SELECT %s::bigint, %s::numeric, %s::boolean, %s::float8, %s::text, %s::timestamptz, %s::jsonb, "
               "%s::bigint[], %s::text, %s::int, 1.5::numeric, 'x'::varchar, NULL::text, "
               "'2024-02-29 23:59:59.5+05:30'::timestamptz, '{\"a\": [1, 2]}'::json, 7::smallint, "
               "'2024-02-29'::date, '12:30'::time")


def _through_psycopg(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_values_come_back_as_through_a_psycopg_cursor():
    when = datetime(2026, 12, 4, 13, 32, 32, 126450, tzinfo=timezone.utc)
    cases = [
        [5, 2**70, True, 0.1, "héllo ✓", when, rawsql.json_param({"k": ["v", 1, None]}), [3, 1, 2],
         ItemStatus.ACCEPTED, 12],
        [-(2**40), Decimal("1.25"), False, float("inf"), "", when - timedelta(days=4000), rawsql.json_param([]), [],
         "open", -1],
        [None, None, None, np.float64(0.25), None, None, None, None, None, None],
    ]
    for params in cases:
        ours = rawsql.fetchall(_VALUES_SQL, params)
        assert ours == _through_psycopg(_VALUES_SQL, params), params
        assert [type(v) for v in ours[0]] == [type(v) for v in _through_psycopg(_VALUES_SQL, params)[0]]
    (row,) = rawsql.fetchall("SELECT %s::float8", [float("nan")])
    assert math.isnan(row[0])


def test_a_nul_character_is_a_data_error_not_a_truncated_value():
    with pytest.raises(DataError):
        rawsql.fetchone("SELECT %s::text", ["before\x00after"])


def test_errors_are_djangos_and_a_failed_transaction_rolls_back():
    from labeling.models import Project

    from tests.factories import ProjectFactory

    project = ProjectFactory()
    sql = "INSERT INTO labeling_project (id, name) SELECT id, name FROM labeling_project WHERE id = %s"
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            rawsql.execute("UPDATE labeling_project SET name = %s WHERE id = %s", ["renamed", project.pk])
            rawsql.execute(sql, [project.pk])
    assert Project.objects.get(pk=project.pk).name == project.name  # the update went with the rollback
    # ... and the connection is usable, its prepared statements still there
    assert rawsql.execute("UPDATE labeling_project SET name = %s WHERE id = %s", ["renamed", project.pk]) == 1
    assert Project.objects.get(pk=project.pk).name == "renamed"


def test_statements_inside_atomic_share_its_transaction():
    with transaction.atomic():
        first = rawsql.fetchone("SELECT txid_current()")[0]
        assert rawsql.fetchone("SELECT txid_current()")[0] == first
        with connection.cursor() as cursor:  # and the ORM's statements see the same transaction
            cursor.execute("SELECT txid_current()")
            assert cursor.fetchone()[0] == first
    assert rawsql.fetchone("SELECT txid_current()")[0] != first  # autocommit: one of its own


def test_statements_are_prepared_once_and_survive_a_rollback_and_a_deallocate():
    def prepared() -> set[str]:
        return {row[0] for row in _through_psycopg("SELECT name FROM pg_prepared_statements", None)}

    assert rawsql.fetchone("SELECT %s::int + 1", [1]) == (2,)
    names = prepared()
    assert names
    assert rawsql.fetchone("SELECT %s::int + 1", [41]) == (42,)
    assert prepared() == names  # not prepared again
    with pytest.raises(IntegrityError), transaction.atomic():
        rawsql.fetchone("SELECT %s::int + 1", [1])
        raise IntegrityError("rolled back")
    assert prepared() == names  # a rollback keeps them
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    assert prepared() == set()
    assert rawsql.fetchone("SELECT %s::int + 1", [2]) == (3,)  # prepared again, transparently
    assert prepared() == names


def test_a_parameter_of_another_type_is_refused_clearly():
    from django.db import ProgrammingError

    with pytest.raises(ProgrammingError, match="type object"):
        rawsql.fetchone("SELECT %s::text", [object()])



def test_statements_made_by_many_threads_at_once_get_names_of_their_own():
    import threading

    names: list[bytes] = []
    barrier = threading.Barrier(8)

    def make(i: int) -> None:
        barrier.wait()
        for j in range(50):
            names.append(rawsql._statement(f"SELECT {i} + {j} + %s", (rawsql._INT8,)).name)

    threads = [threading.Thread(target=make, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(names) == len(set(names)) == 400
