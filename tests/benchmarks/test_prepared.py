"""The template databases the end-to-end stacks and demo servers copy (benchmarks/prepared.py): each copy is
migrated and seeded and stands alone, and a template is made again when the code changes."""

import os
import sqlite3
import uuid

import psycopg
import pytest

from benchmarks import prepared
from benchmarks.procs import clean_env, with_database
from tests.conftest import PASSWORD

DATABASE_URL = os.environ.get("DATABASE_URL", "")


def test_the_fingerprint_follows_code_and_data_but_not_the_tests(tmp_path):
    (tmp_path / "workflows" / "definitions").mkdir(parents=True)
    (tmp_path / "tests").mkdir()
    (tmp_path / ".venv").mkdir()
    migration = tmp_path / "workflows" / "0001_initial.py"
    migration.write_text("operations = []\n")
    definition = tmp_path / "workflows" / "definitions" / "waterlogging.yaml"
    definition.write_text("states: [reported]\n")
    first = prepared.fingerprint(tmp_path)

    (tmp_path / "tests" / "test_x.py").write_text("def test(): pass\n")
    (tmp_path / ".venv" / "site.py").write_text("x = 1\n")
    (tmp_path / "workflows" / "notes.txt").write_text("not code\n")
    assert prepared.fingerprint(tmp_path) == first

    definition.write_text("states: [reported, closed]\n")
    second = prepared.fingerprint(tmp_path)
    assert second != first
    migration.write_text("operations = ['x']\n")
    assert prepared.fingerprint(tmp_path) not in (first, second)


def test_sqlite_copies_are_seeded_and_independent(tmp_path):
    env = clean_env(LIANDONG_VAR_DIR=str(tmp_path))
    a, b = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"
    prepared.sqlite_copy(a, env, PASSWORD)
    prepared.sqlite_copy(b, env, PASSWORD)
    with sqlite3.connect(a) as db:
        assert db.execute("SELECT count(*) FROM dispatch_user WHERE username = 'dispatcher'").fetchone() == (1,)
        db.execute("DELETE FROM dispatch_user WHERE username = 'dispatcher'")
    with sqlite3.connect(b) as db:
        assert db.execute("SELECT count(*) FROM dispatch_user WHERE username = 'dispatcher'").fetchone() == (1,)
        applied = db.execute("SELECT count(*) FROM django_migrations").fetchone()[0]
    assert applied > 30


@pytest.mark.postgres
def test_postgres_copies_are_seeded_and_independent():
    admin = with_database(DATABASE_URL, "postgres")
    names = [f"liandong_copy_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    try:
        for name in names:
            prepared.postgres_copy(admin, name, clean_env(), PASSWORD)
        with psycopg.connect(with_database(DATABASE_URL, names[0]), autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM dispatch_user WHERE username = 'dispatcher'").fetchone() == (1,)
            conn.execute("DELETE FROM dispatch_user WHERE username = 'dispatcher'")
        with psycopg.connect(with_database(DATABASE_URL, names[1])) as conn:
            assert conn.execute("SELECT count(*) FROM dispatch_user WHERE username = 'dispatcher'").fetchone() == (1,)
        with psycopg.connect(admin) as conn:
            templates = conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE %s AND datname NOT LIKE %s",
                                     (prepared.PREFIX + "%", "%\\_new")).fetchone()[0]
        assert templates >= 1
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
