"""Starting and stopping the real processes the end-to-end tests drive: the helpers live in
``benchmarks/procs.py`` and ``benchmarks/stack.py`` (the surge benchmark starts its stack with them too);
re-exported here."""

from benchmarks.procs import BIN, PYTHON, ROOT, Proc, clean_env, demo_server, free_port, manage, wait_http
from benchmarks.stack import ServicesStack

__all__ = ["BIN", "PYTHON", "ROOT", "Proc", "ServicesStack", "clean_env", "demo_server", "free_port", "manage",
           "wait_http"]
