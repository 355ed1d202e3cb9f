"""A services stack of its own, started one way for everyone: the surge benchmark (``manage.py storm``), the fault
suite (``tests/faults``) and the services-profile end-to-end tests.

A PostgreSQL database created for the stack (dropped afterwards), a Redis server of its own on a free port (or a
given Redis database, refused when another client uses it, then flushed), migrated (and seeded: ``seed_demo``) as a
copy of a template made once (``benchmarks/prepared.py``), then a
Celery worker (always with the production flags, ``WORKER_FLAGS``), Celery beat and the ASGI server (``server_argv``: the
deep listen backlog), each in its own process group, optionally supervised (``restart_after``) as systemd's
``Restart=always`` would. Everything is stopped and removed again, also when starting fails::

    with ServicesStack(os.environ["DATABASE_URL"], tmp=tmp, seed_password="pw") as stack:
        httpx.get(f"{stack.base}/readyz")
        stack.restart("server", sig=signal.SIGKILL)

``PostgresCluster`` is a PostgreSQL server of its own (``initdb`` in a temporary directory, a free port), for the
faults that stop or restart the server itself: the machine's shared server, which other tests use, is never
touched. Give the stack its URL::

    with PostgresCluster() as cluster, ServicesStack(cluster.url, tmp=tmp) as stack:
        cluster.stop()  # every connection of the server's pool, the worker and beat is gone
        cluster.start()

``demo_server`` is the embedded profile's counterpart: ``manage.py serve`` (Celery inside) on a SQLite copy of the
template.

``start_haproxy`` puts HAProxy in front of the stack's ASGI servers with the shipped ``deploy/haproxy.cfg``
(``render_haproxy_cfg``: only its ports replaced), so the configuration tested is the one deployed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import psycopg
import redis

from benchmarks import prepared
from benchmarks.procs import (
    BIN,
    PYTHON,
    WORKER_FLAGS,
    Proc,
    clean_env,
    free_port,
    manage,
    server_argv,
    wait_http,
    with_database,
)

HAPROXY_CFG = Path(__file__).resolve().parents[1] / "deploy" / "haproxy.cfg"
HAPROXY = "/usr/sbin/haproxy"


def _server_port(argv: list[str]) -> int:
    """The port of a server started with ``server_argv``."""
    return int(argv[argv.index("--port") + 1])


def render_haproxy_cfg(port: int, backends: Sequence[int], template: Path = HAPROXY_CFG) -> str:
    """``deploy/haproxy.cfg`` listening on 127.0.0.1:``port`` with one ``server`` line per server port in
    ``backends``; the ``user``/``group`` lines are dropped (a test does not run as root)."""
    lines, servers_done = [], False
    for line in template.read_text().splitlines():
        if re.match(r"\s+(user|group)\s", line):
            continue
        if re.match(r"\s+bind\s", line):
            line = re.sub(r"bind\s+\S+", f"bind 127.0.0.1:{port}", line)
        elif re.match(r"\s+server\s", line):
            if not servers_done:
                lines += [f"    server web{p} 127.0.0.1:{p}" for p in backends]
                servers_done = True
            continue
        lines.append(line)
    if not servers_done:
        raise ValueError(f"{template} has no server line to replace")
    return "\n".join(lines) + "\n"


def refuse_shared_redis(client) -> None:
    """Refuse to start when something else is connected to the stack's Redis database: a worker of another
    stack (one left running by a crashed driver, say) takes this stack's routing jobs from the shared queue,
    and the run reports incidents unrouted for minutes (seen: "unrouted 131", routing p95 111 s)."""
    db = int(client.connection_pool.connection_kwargs.get("db", 0))
    me = client.client_id()
    others = [c for c in client.client_list() if int(c.get("db", -1)) == db and int(c["id"]) != me]
    if others:
        who = "; ".join(f"{c.get('addr')} {c.get('name') or ''} last command {c.get('cmd')}".strip() for c in others[:5])
        raise RuntimeError(
            f"{len(others)} other client(s) are connected to Redis database {db} ({who}): another stack's worker "
            "would take this stack's jobs. Stop it (pgrep -af celery) or pass --redis-url with another database."
        )


def postgres_bindir() -> Path | None:
    """The directory of PostgreSQL's server programs (``initdb``, ``pg_ctl``): Debian keeps them in
    ``/usr/lib/postgresql/<version>/bin`` (the newest is taken), elsewhere they are on ``PATH``. None when absent."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3])
                    if p.parts[-3].isdigit() else 0)
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


class PostgresCluster:
    """A PostgreSQL server of its own: ``initdb`` in a temporary directory (trust authentication, ``fsync`` off),
    listening on 127.0.0.1 on a free port, started by ``start()`` (or ``with``) and stopped and removed by
    ``close()`` whatever happened. ``stop(mode)`` and ``start()`` or ``restart(mode)`` in between are faults: a
    stopped server refuses connections, a restarted one has cut every connection that was open.

    PostgreSQL refuses to run as root: as root its programs run as the ``postgres`` OS user (``runuser``), which
    owns the data directory. ``url``: the server's ``postgres`` database as the ``postgres`` role.
    """

    def __init__(self, bindir: Path | None = None, user: str = "postgres", port: int | None = None):
        found = bindir or postgres_bindir()
        if found is None:
            raise FileNotFoundError("PostgreSQL's initdb was not found (apt-get install postgresql)")
        self.bindir = Path(found)
        self.port = port or free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self._as = ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []
        self.dir = Path(tempfile.mkdtemp(prefix="pgcluster-"))  # not under pytest's tmp: its parents are 0700
        if self._as:
            shutil.chown(self.dir, user=user, group=None)
        self.data, self.log_path = self.dir / "data", self.dir / "server.log"
        self._initialised = False

    def _run(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
                               f"\n{self.log()}")
        return result.stdout

    def _initdb(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        settings = {"listen_addresses": "'127.0.0.1'", "port": str(self.port),
                    "unix_socket_directories": f"'{self.dir}'", "max_connections": "200", "fsync": "off",
                    "synchronous_commit": "off", "full_page_writes": "off", "shared_buffers": "64MB"}
        with open(self.data / "postgresql.conf", "a") as conf:  # the data directory's owner: readable by root
            conf.write("".join(f"{key} = {value}\n" for key, value in settings.items()))
        self._initialised = True

    def start(self) -> PostgresCluster:
        """Start the server (initialising it the first time), accepting connections when this returns."""
        if not self._initialised:
            self._initdb()
        self._run(str(self.bindir / "pg_ctl"), "start", "-D", str(self.data), "-l", str(self.log_path), "-w",
                  "-t", "60")
        return self

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m mode``: ``fast`` ends every session, ``immediate`` is a crash (recovery at start)."""
        self._run(str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "60")

    def restart(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "restart", "-D", str(self.data), "-l", str(self.log_path), "-m",
                  mode, "-w", "-t", "60")

    def running(self) -> bool:
        status = subprocess.run([*self._as, str(self.bindir / "pg_ctl"), "status", "-D", str(self.data)],
                                capture_output=True, text=True, timeout=30)
        return status.returncode == 0

    def close(self) -> None:
        """Stop the server (immediately) if it runs, and remove its directory. Safe to call twice."""
        if self._initialised and self.data.exists():
            with contextlib.suppress(Exception):
                if self.running():
                    self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def __enter__(self) -> PostgresCluster:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


@contextlib.contextmanager
def demo_server(tmp: Path, password: str, **env_overrides: str):
    """A seeded demo city served by ``manage.py serve`` (embedded profile, SQLite in ``tmp``): yields
    ``(base_url, proc)`` and stops the server afterwards."""
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp / 'liandong.sqlite3'}", LIANDONG_VAR_DIR=str(tmp), **env_overrides)
    prepared.sqlite_copy(tmp / "liandong.sqlite3", env, password)  # migrated and seeded
    port = free_port()
    server = Proc("serve", [PYTHON, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz", server)
        yield base, server
    finally:
        server.stop()


class ServicesStack:
    """PostgreSQL database + Redis + ASGI server + Celery worker + beat, started by ``start()`` (or ``with``).

    ``database_url``: a PostgreSQL server (its database part is replaced by the stack's own, ``<prefix>_<hex>``).
    ``redis_url``: None starts a redis-server of the stack's own (no persistence, a free port); a URL uses that
    database instead, after ``refuse_shared_redis``, flushed. ``tmp``: logs, beat schedule and ``LIANDONG_VAR_DIR``;
    None makes a temporary directory (prefix ``tmp_prefix``) that ``stop`` removes. ``env``: more settings for every
    process. ``seed_password``: run ``seed_demo`` with it (None: no demo data). ``setup``: more ``manage.py``
    commands run after that, before the processes start. ``worker_args``: added to every worker's command line
    besides ``WORKER_FLAGS``. ``restart_after``: by role (``worker``, ``beat``, ``server``, ``redis``), seconds
    after which that process is started again whenever it exits. ``keep``: leave database and logs behind.
    ``servers``, ``workers``: the production layout of README "Several servers and workers behind HAProxy" on this
    host: that many ASGI servers (``server``, ``server2`` ...) and Celery workers (``worker``, ``worker2`` ...),
    and with more than one server HAProxy (``haproxy``, ``deploy/haproxy.cfg``) in front of them.

    ``procs`` maps each process's name to its ``Proc``; ``base`` is the URL clients use (HAProxy's with several
    servers, else the server's), ``port`` the first server's, ``env`` every process's environment, ``name`` the
    database's name.
    """

    def __init__(self, database_url: str, *, prefix: str = "liandong_stack", tmp: Path | None = None,
                 tmp_prefix: str = "stack-", redis_url: str | None = None, env: Mapping[str, str] | None = None,
                 seed_password: str | None = None, setup: Sequence[Sequence[str]] = (),
                 worker_args: Sequence[str] = ("--concurrency", "2"),
                 restart_after: Mapping[str, float] | None = None, keep: bool = False,
                 servers: int = 1, workers: int = 1):
        self.name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self.admin_url, self.database_url = with_database(database_url, "postgres"), with_database(database_url, self.name)
        self.own_tmp = tmp is None
        self.tmp = Path(tempfile.mkdtemp(prefix=tmp_prefix)) if tmp is None else Path(tmp)
        self.redis_port = None if redis_url else free_port()
        self.redis_url = redis_url or f"redis://127.0.0.1:{self.redis_port}/0"
        self.env = clean_env(**{"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url,
                                "LIANDONG_VAR_DIR": str(self.tmp), **(env or {})})
        self.seed_password, self.setup, self.worker_args = seed_password, list(setup), list(worker_args)
        self.restart_after, self.keep = dict(restart_after or {}), keep
        self.servers, self.workers = servers, workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, Proc] = {}
        self._specs: dict[str, tuple[str, list[str]]] = {}  # name -> (role, argv), to start it again
        self._created = False

    # -- the whole stack
    def start(self) -> ServicesStack:
        """Redis, database (migrated and seeded: a template's copy; + ``setup``), workers, beat, ASGI servers
        (answering ``/healthz``), HAProxy in front of several.
        If any step fails, everything already started is stopped and the database dropped."""
        try:
            if self.redis_port is None:
                self._claim_shared_redis()
            else:
                self.start_redis()
            self.create_database()  # migrated and seeded: a copy of benchmarks/prepared.py's template
            for command in self.setup:
                self.manage(*command)
            for n in range(1, self.workers + 1):
                self.start_worker(self.numbered("worker", n))
            self.start_beat()
            self.start_server()
            for n in range(2, self.servers + 1):
                self.start_server(self.numbered("server", n), port=free_port())
            if self.servers > 1:
                port = free_port()
                self.start_haproxy(port=port)
                self.base = f"http://127.0.0.1:{port}"
        except BaseException:
            self.stop(keep_logs=True)
            raise
        return self

    @staticmethod
    def numbered(role: str, n: int) -> str:
        """The name of the ``n``-th process of ``role``: ``worker``, ``worker2``, ``worker3`` ..."""
        return role if n == 1 else f"{role}{n}"

    def names(self, role: str) -> list[str]:
        """The names of the stack's processes of ``role`` (``worker``, ``server`` ...), as started."""
        return [name for name, (r, _argv) in self._specs.items() if r == role]

    def stop(self, keep_logs: bool = False) -> None:
        """Every process (its whole process group; Redis last), then the database and, unless ``keep_logs``
        or ``keep``, the temporary directory the stack made. Safe to call twice."""
        for name in sorted(reversed(self.procs), key=lambda n: self._specs[n][0] == "redis"):
            with contextlib.suppress(Exception):
                self.procs[name].stop()
        self.procs.clear()
        if self._created and not self.keep:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self._created = False
        if self.own_tmp and not (keep_logs or self.keep):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> ServicesStack:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop(keep_logs=exc_type is not None)

    # -- its parts
    def create_database(self) -> None:
        """The stack's database, migrated and seeded (with ``seed_password`` unless None)."""
        prepared.postgres_copy(self.admin_url, self.name, self.env, self.seed_password)
        self._created = True

    def manage(self, *args: str, timeout: float = 300) -> str:
        """``manage.py <args>`` with the stack's environment; its output."""
        return manage(*args, env=self.env, timeout=timeout)

    def query(self, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(sql, params).fetchall()

    def start_redis(self) -> Proc:
        """The stack's own Redis server (empty: no persistence), answering PING when this returns."""
        if self.redis_port is None:
            raise RuntimeError(f"the stack uses a shared Redis ({self.redis_url}); it does not start one")
        return self._launch("redis", "redis", [shutil.which("redis-server") or "redis-server", "--port",
                                               str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                                               "--appendonly", "no"])

    def start_worker(self, name: str = "worker", args: Sequence[str] | None = None) -> Proc:
        """A Celery worker with the production flags and ``args`` (default: the stack's ``worker_args``)."""
        args = self.worker_args if args is None else list(args)
        return self._launch(name, "worker", [str(BIN / "celery"), "-A", "dispatch", "worker", "-l", "warning",
                                             *WORKER_FLAGS, *args, "-n", f"{self.name}-{name}@%h"])

    def start_beat(self, name: str = "beat") -> Proc:
        return self._launch(name, "beat", [str(BIN / "celery"), "-A", "dispatch", "beat", "-l", "warning",
                                           "-s", str(self.tmp / "beat-schedule")])

    def start_server(self, name: str = "server", port: int | None = None) -> Proc:
        """The ASGI server on the stack's port (always the same one), or on ``port`` (another server of the same stack:
        the same database and Redis), answering ``/healthz`` when this returns."""
        return self._launch(name, "server", server_argv(self.port if port is None else port))

    def start_haproxy(self, name: str = "haproxy", port: int | None = None,
                      backends: Sequence[int] | None = None) -> Proc:
        """HAProxy (``/usr/sbin/haproxy``, Debian's package) with ``deploy/haproxy.cfg`` on ``port`` (a free
        one by default) in front of the server ports ``backends`` (default: every server of the stack), in the
        foreground (``-db``), answering ``/healthz`` through a backend when this returns. Its URL:
        ``http://127.0.0.1:<port>``."""
        if backends is None:
            backends = [_server_port(argv) for role, argv in self._specs.values() if role == "server"]
        port = port or free_port()
        cfg = self.tmp / f"{name}.cfg"
        cfg.write_text(render_haproxy_cfg(port, backends))
        check = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy -c -f {cfg} failed:\n{check.stdout}\n{check.stderr}")
        proc = self._launch(name, "haproxy", [HAPROXY, "-f", str(cfg), "-db"])
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        return proc

    # -- faults
    def kill(self, name: str, sig: int = signal.SIGKILL, timeout: float = 10) -> None:
        """``sig`` to the process group of ``name``, waiting until its process has exited. A supervised
        process is started again by its supervisor; any other stays down until started again."""
        proc = self.procs[name]
        popen = proc.popen
        proc.signal(sig)
        popen.wait(timeout)

    def stop_process(self, name: str, sig: int = signal.SIGTERM) -> None:
        """Stop ``name`` (and its supervision) with ``sig``; ``restart`` or ``start_*`` brings it back."""
        self.procs[name].stop(sig=sig)

    def restart(self, name: str, *, sig: int = signal.SIGTERM, pause: float = 0.0) -> Proc:
        """Stop ``name`` with ``sig``, wait ``pause`` seconds, start it again with the same command line (Redis
        empty, a server on the same port) and wait until it answers."""
        self.stop_process(name, sig)
        time.sleep(pause)
        role, argv = self._specs[name]
        return self._launch(name, role, argv)

    def _launch(self, name: str, role: str, argv: list[str]) -> Proc:
        old = self.procs.pop(name, None)
        if old is not None:
            old.stop()  # already stopped or killed, usually: its log is closed and its supervision ended
        self._specs[name] = (role, argv)
        proc = self.procs[name] = Proc(name, argv, self.env, self.tmp, restart_after=self.restart_after.get(role))
        if role == "server":
            wait_http(f"http://127.0.0.1:{_server_port(argv)}/healthz", proc)
        elif role == "redis":
            self._wait_redis(proc)
        return proc

    def _wait_redis(self, proc: Proc, timeout: float = 10) -> None:
        client = redis.Redis(port=self.redis_port)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if proc.popen.poll() is not None:
                    raise RuntimeError(f"redis exited with {proc.popen.returncode}:\n{proc.log()}")
                try:
                    client.ping()
                    return
                except redis.RedisError:
                    time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError(f"redis did not start within {timeout}s:\n{proc.log()}")

    def _claim_shared_redis(self) -> None:
        client = redis.Redis.from_url(self.redis_url)
        try:
            refuse_shared_redis(client)
            client.flushdb()
        finally:
            client.close()
