"""Starting and stopping real processes (each in its own process group): used by the end-to-end tests
and by the surge benchmark (`manage.py storm`)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**overrides: str) -> dict:
    """The caller's environment without the profile variables, with ``MFA_REQUIRED=false``, plus ``overrides``.
    Without pytest-xdist's either: a server started by a test worker is not one, and ``PYTEST_XDIST_WORKER`` would
    move its Redis database (dispatch/settings.py) onto another stack's."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL") and not k.startswith("PYTEST_XDIST_")}
    # The seeded users sign in with their password alone (no second factor: README "Two-step sign-in") unless a
    # caller turns it on.
    env.update(PYTHONUNBUFFERED="1", MFA_REQUIRED="false")
    env.update(overrides)
    return env


def manage(*args: str, env: dict, timeout: float = 300) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


class Proc:
    """A child process in its own session, output to a log file, killed with its whole group.

    ``restart_after`` makes it supervised like production runs it (systemd ``Restart=always``,
    ``RestartSec``): whenever it exits, it is started again after that many seconds.
    """

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path, restart_after: float | None = None):
        self.name = name
        self.argv, self.env = argv, env
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.restarts = 0
        self._stopping = False
        self.popen = self._spawn()
        if restart_after is not None:
            threading.Thread(target=self._supervise, args=(restart_after,), daemon=True).start()

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def _supervise(self, delay: float) -> None:
        while not self._stopping:
            code = self.popen.wait()
            if self._stopping:
                return
            self._log.write(f"\n--- supervisor: exited with {code}; restarting in {delay}s ---\n".encode())
            self._log.flush()
            time.sleep(delay)
            if self._stopping:
                return
            self.popen = self._spawn()
            self.restarts += 1  # after the new process is in place: a waiter on ``restarts`` sees it

    @property
    def pid(self) -> int:
        return self.popen.pid

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = 10, sig: int | None = None) -> None:
        """``sig`` (default SIGTERM) to the group, SIGKILL after ``timeout``, supervision ended; what is left of
        the group when its leader has exited (children that outlived it) is killed, as systemd would."""
        self._stopping = True
        alive = self.popen.poll() is None
        self.signal(signal.SIGTERM if sig is None else sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait(timeout)
        if alive:  # reaped just now by us: its group id cannot have been taken by anyone else yet
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def with_database(url: str, name: str) -> str:
    """``url`` (a PostgreSQL server URL, with or without a database name) naming database ``name``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def wait_http(url: str, proc: Proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log()}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s:\n{proc.log()}")


# As deployed: no gossip, mingle or heartbeat (Celery 5.7 can hang restarting gossip after a broker loss).
WORKER_FLAGS = ("--without-gossip", "--without-mingle", "--without-heartbeat")


def server_argv(port: int, host: str = "127.0.0.1") -> list[str]:
    """The ASGI server as deployed (deploy/: ``python -m dispatch.runtime.server``, its settings in that module)."""
    return [PYTHON, "-m", "dispatch.runtime.server", "--host", host, "--port", str(port)]
