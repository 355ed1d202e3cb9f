"""The database refuses UPDATE and DELETE on an activation's timeline rows (PostgreSQL and SQLite), like incidents'."""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION plans_activation_timeline_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'activation timeline rows are append-only (' || TG_OP || ' refused)', ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER plans_activationevent_no_update BEFORE UPDATE ON plans_activationevent
    FOR EACH ROW EXECUTE FUNCTION plans_activation_timeline_append_only();
CREATE TRIGGER plans_activationevent_no_delete BEFORE DELETE ON plans_activationevent
    FOR EACH ROW EXECUTE FUNCTION plans_activation_timeline_append_only();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS plans_activationevent_no_update ON plans_activationevent;
DROP TRIGGER IF EXISTS plans_activationevent_no_delete ON plans_activationevent;
DROP FUNCTION IF EXISTS plans_activation_timeline_append_only();
"""
SQLITE_FORWARD = [
    """CREATE TRIGGER plans_activationevent_no_update BEFORE UPDATE ON plans_activationevent
       BEGIN SELECT RAISE(ABORT, 'activation timeline rows are append-only (UPDATE refused)'); END;""",
    """CREATE TRIGGER plans_activationevent_no_delete BEFORE DELETE ON plans_activationevent
       BEGIN SELECT RAISE(ABORT, 'activation timeline rows are append-only (DELETE refused)'); END;""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS plans_activationevent_no_update;",
    "DROP TRIGGER IF EXISTS plans_activationevent_no_delete;",
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
    dependencies = [("plans", "0002_activations")]
    operations = [migrations.RunPython(forward, backward)]
