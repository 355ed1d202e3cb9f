"""Databases made once and copied: ``migrate`` and ``seed_demo`` cost about 10 s of CPU, and the end-to-end tests,
the fault suite and ``manage.py storm`` start a dozen servers a run, each on a database of its own.

The first stack (or demo server) of a given code and demo password migrates and seeds a template; the others
copy it: PostgreSQL with ``CREATE DATABASE ... TEMPLATE`` (``postgres_copy``), SQLite by copying the file
(``sqlite_copy``). A template is named after ``fingerprint``, a hash of every Python and YAML file of the project
(tests aside), and the password: a change to a migration, the demo city or a workflow makes a new one, and the
templates of other code on that server or in that directory are dropped. A stack's own settings must not change
what ``migrate`` and ``seed_demo`` write (the template does not know them); its ``setup`` commands run on the copy.

Making a template is serialised (a PostgreSQL advisory lock, a file lock), so that parallel test workers make it
once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import psycopg

from benchmarks.procs import ROOT, manage, with_database

PREFIX = "liandong_tpl_"
_SKIP = {".venv", ".git", "tests", "var", "node_modules", "__pycache__"}
_LOCK = 0x4C44_5450  # pg_advisory_lock key of template making ("LDTP")


def fingerprint(root: Path = ROOT) -> str:
    """A hash of the project's code and data (``*.py``, ``*.yaml``, ``*.yml`` under ``root``, tests aside)."""
    digest = hashlib.sha256()
    for path in sorted(_sources(root)):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _template_name(password: str | None) -> tuple[str, str]:
    """The template's name for this code and ``password``, and the prefix of every template of this code (the
    others are dropped when a template is made)."""
    code = fingerprint()
    return f"{code}_{hashlib.sha256(repr(password).encode()).hexdigest()[:8]}", code


def _sources(folder: Path) -> Iterator[Path]:
    for entry in folder.iterdir():
        if entry.is_dir():
            if entry.name not in _SKIP and not entry.name.startswith("."):
                yield from _sources(entry)
        elif entry.suffix in (".py", ".yaml", ".yml"):
            yield entry


def prepare(run: Callable[..., str], password: str | None) -> None:
    """``migrate``, then ``seed_demo`` with ``password`` (none when None), through ``run(*args)``."""
    run("migrate", "--noinput")
    if password is not None:
        run("seed_demo", f"--password={password}")  # a password may start with "-"


def postgres_copy(admin_url: str, name: str, env: Mapping[str, str], password: str | None) -> None:
    """Create database ``name`` on the server of ``admin_url`` as a copy of the template for this code and
    ``password``, making the template first (``env``: the environment of its ``manage.py`` commands, whose
    ``DATABASE_URL`` is replaced by the template's)."""
    label, code = _template_name(password)
    template = PREFIX + label
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK,))
        try:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,)).fetchone() is None:
                others = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s AND datname NOT LIKE %s",
                                      (PREFIX + "%", PREFIX + code + "%")).fetchall()
                for (old,) in others:
                    conn.execute(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
                building = template + "_new"
                conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')  # left by a run killed here
                conn.execute(f'CREATE DATABASE "{building}"')
                try:
                    url = with_database(admin_url, building)
                    prepare(lambda *args: manage(*args, env={**env, "DATABASE_URL": url}), password)
                except BaseException:
                    conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
                    raise
                conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK,))


def sqlite_copy(path: Path, env: Mapping[str, str], password: str | None) -> None:
    """Write the SQLite database ``path`` as a copy of the template for this code and ``password`` (kept in the
    temporary directory), making the template first (``env``: the environment of its ``manage.py`` commands)."""
    folder = Path(tempfile.gettempdir()) / "liandong-templates"
    folder.mkdir(exist_ok=True)
    label, code = _template_name(password)
    template = folder / f"{label}.sqlite3"
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.exists():
            for old in folder.glob("*.sqlite3"):
                if not old.name.startswith(code):
                    old.unlink(missing_ok=True)
            with tempfile.TemporaryDirectory(dir=folder) as work:
                building = Path(work) / "db.sqlite3"
                prepare(lambda *args: manage(*args, env={**env, "DATABASE_URL": f"sqlite:///{building}",
                                                         "LIANDONG_VAR_DIR": work}), password)
                with contextlib.closing(sqlite3.connect(building)) as db:  # all of the log into the file
                    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                building.rename(template)
        shutil.copyfile(template, path)
