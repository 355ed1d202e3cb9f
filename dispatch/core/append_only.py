"""Making a table append-only in the database itself (PostgreSQL and SQLite): a migration operation that installs
triggers refusing UPDATE and DELETE, used by every hash-chained timeline (an incident's, a plan activation's).

TRUNCATE (table owner only; what test database flushes use on PostgreSQL) is left to privileges.
"""

from django.db import migrations


def append_only(*, table: str, name: str, what: str) -> migrations.RunPython:
    """The operation: triggers ``<name>_no_update`` and ``<name>_no_delete`` on ``table`` raising "<what> are
    append-only (UPDATE refused)" (on PostgreSQL through the function ``<name>_append_only``)."""
    function, prefix = f"{name}_append_only", name
    pg_forward = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = '{what} are append-only (' || TG_OP || ' refused)', ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER {prefix}_no_update BEFORE UPDATE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}();
CREATE TRIGGER {prefix}_no_delete BEFORE DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}();
"""
    pg_backward = f"""
DROP TRIGGER IF EXISTS {prefix}_no_update ON {table};
DROP TRIGGER IF EXISTS {prefix}_no_delete ON {table};
DROP FUNCTION IF EXISTS {function}();
"""
    sqlite_forward, sqlite_backward = sqlite_triggers(table=table, name=name, what=what)

    def run(schema_editor, pg: str, sqlite: list[str]) -> None:
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(pg)
        elif vendor == "sqlite":
            for statement in sqlite:
                schema_editor.execute(statement)

    return migrations.RunPython(
        lambda apps, schema_editor: run(schema_editor, pg_forward, sqlite_forward),
        lambda apps, schema_editor: run(schema_editor, pg_backward, sqlite_backward),
    )


def sqlite_triggers(*, table: str, name: str, what: str) -> tuple[list[str], list[str]]:
    """SQLite's statements ``(creating the triggers, dropping them)``: the migration's, and the test suite's, which
    lifts them to empty the table after a transactional test (SQLite has no TRUNCATE: Django flushes with DELETE)."""
    prefix = name
    create = [
        f"""CREATE TRIGGER {prefix}_no_update BEFORE UPDATE ON {table}
       BEGIN SELECT RAISE(ABORT, '{what} are append-only (UPDATE refused)'); END;""",
        f"""CREATE TRIGGER {prefix}_no_delete BEFORE DELETE ON {table}
       BEGIN SELECT RAISE(ABORT, '{what} are append-only (DELETE refused)'); END;""",
    ]
    drop = [f"DROP TRIGGER IF EXISTS {prefix}_no_update;", f"DROP TRIGGER IF EXISTS {prefix}_no_delete;"]
    return create, drop
