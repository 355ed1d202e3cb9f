"""Starting and stopping the real processes the end-to-end tests drive: the helpers live in
``benchmarks/procs.py`` and ``benchmarks/stack.py`` (the surge benchmark starts its stack with them too);
re-exported here."""

import os
from pathlib import Path

import pytest

from benchmarks.procs import BIN, PYTHON, ROOT, Proc, clean_env, free_port, manage, wait_http
from benchmarks.stack import HAPROXY, ServicesStack, demo_server

__all__ = ["BIN", "PYTHON", "ROOT", "Proc", "ServicesStack", "clean_env", "demo_server", "free_port", "manage",
           "require_haproxy", "wait_http"]


def require_haproxy() -> None:
    """Skip the test without Debian's haproxy (fail under ``CI=true``: ``.ci/run`` installs it)."""
    if not Path(HAPROXY).exists():
        reason = f"{HAPROXY} is missing (apt-get install haproxy; .ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
