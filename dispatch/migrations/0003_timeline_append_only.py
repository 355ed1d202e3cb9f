"""The database itself refuses UPDATE and DELETE on timeline rows (PostgreSQL and SQLite).

TRUNCATE (table owner only; what test database flushes use on PostgreSQL) is left to privileges.
"""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION dispatch_timeline_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'timeline rows are append-only (' || TG_OP || ' refused)', ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER dispatch_timeline_no_update BEFORE UPDATE ON dispatch_timelineevent
    FOR EACH ROW EXECUTE FUNCTION dispatch_timeline_append_only();
CREATE TRIGGER dispatch_timeline_no_delete BEFORE DELETE ON dispatch_timelineevent
    FOR EACH ROW EXECUTE FUNCTION dispatch_timeline_append_only();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS dispatch_timeline_no_update ON dispatch_timelineevent;
DROP TRIGGER IF EXISTS dispatch_timeline_no_delete ON dispatch_timelineevent;
DROP FUNCTION IF EXISTS dispatch_timeline_append_only();
"""
SQLITE_FORWARD = [
    """CREATE TRIGGER dispatch_timeline_no_update BEFORE UPDATE ON dispatch_timelineevent
       BEGIN SELECT RAISE(ABORT, 'timeline rows are append-only (UPDATE refused)'); END;""",
    """CREATE TRIGGER dispatch_timeline_no_delete BEFORE DELETE ON dispatch_timelineevent
       BEGIN SELECT RAISE(ABORT, 'timeline rows are append-only (DELETE refused)'); END;""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS dispatch_timeline_no_update;",
    "DROP TRIGGER IF EXISTS dispatch_timeline_no_delete;",
]


def forward(apps, schema_editor):
    _run(schema_editor, PG_FORWARD, SQLITE_FORWARD)


def backward(apps, schema_editor):
    _run(schema_editor, PG_BACKWARD, SQLITE_BACKWARD)


def _run(schema_editor, pg: str, sqlite: list[str]):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(pg)
    elif vendor == "sqlite":
        for statement in sqlite:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0002_initial")]
    operations = [migrations.RunPython(forward, backward)]
