"""PostgreSQL: vacuum the two tables every answer rewrites far more often than the default.

Each answer rewrites its item twice and its lease twice (new row versions, never HOT: indexed
counters change), and the next-task picker walks the front of a partial index on items where
exactly those rewrites leave their dead entries. With the default trigger (20% of the table dead)
a 100,000-item project at 300 answers/s would carry 20,000 dead item versions between vacuums,
and every pick would step over them (a pick read 11 buffers after a VACUUM and 129 before, in a
30,000-item project after 85,000 answers). A fixed threshold of 2,000 dead rows keeps that small
at any project size. Nothing changes on SQLite; on a server running with autovacuum off these
settings wait until it is turned on.
"""

from django.db import migrations

TABLES = ("labeling_item", "labeling_lease")
SETTINGS = "autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"ALTER TABLE {table} SET ({SETTINGS})")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor, "
                              "autovacuum_vacuum_threshold, autovacuum_vacuum_cost_delay)")


class Migration(migrations.Migration):
    dependencies = [("labeling", "0004_fewer_indexes")]

    operations = [migrations.RunPython(forwards, backwards)]
