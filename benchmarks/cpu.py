"""CPU time of the stack's processes from ``/proc/<pid>/stat`` (utime + stime, in milliseconds).

Tiers: ``server`` (the ASGI server process), ``worker`` (the Celery main process and its pool children),
``postgres`` (every process of the cluster: cmdline starting with ``postgres:``; includes other databases'
backends and the background processes) and ``postgres_db`` (only the backends connected to the benchmark's
database, named in their cmdline). A process that exits between two samples takes its CPU with it; the
stack's processes and PostgreSQL's pooled connections (``CONN_MAX_AGE``) live through a phase.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 10.0


def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, utime+stime in ms) of ``pid``, or None if it is gone."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid ... utime(14) stime(15)
    return int(fields[1]), (int(fields[11]) + int(fields[12])) * TICK_MS


def _cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _pids() -> list[int]:
    return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]


class CpuSampler:
    """``sample()`` -> ``{tier: {pid: cpu ms so far}}`` for the processes given (a tier's tree roots: one pid, or
    several when the tier has several processes, e.g. two ASGI servers) and
    PostgreSQL; ``delta(before, after)`` -> ``{tier: cpu ms in between}``, counted per process so that a
    process that exits in between removes only its own last interval, never makes a tier negative."""

    def __init__(self, roots: dict[str, int | list[int]], database: str | None = None, postgres: bool = True):
        self.roots = {name: [pids] if isinstance(pids, int) else list(pids) for name, pids in roots.items()}
        self.database, self.postgres = database, postgres

    def sample(self) -> dict[str, dict[int, float]]:
        table = {pid: s for pid in _pids() if (s := _stat(pid)) is not None}
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        out: dict[str, dict[int, float]] = {}
        for name, tier_roots in self.roots.items():
            tree, todo = {}, list(tier_roots)
            while todo:
                pid = todo.pop()
                if pid in table:
                    tree[pid] = table[pid][1]
                todo += children.get(pid, [])
            out[name] = tree
        if self.postgres:
            out["postgres"], out["postgres_db"] = {}, {}
            for pid, (_, ms) in table.items():
                cmd = _cmdline(pid)
                if cmd.startswith("postgres:"):
                    out["postgres"][pid] = ms
                    if self.database and f" {self.database} " in f" {cmd} ":
                        out["postgres_db"][pid] = ms
            if not self.database:
                del out["postgres_db"]
        return out

    @staticmethod
    def delta(before: dict, after: dict) -> dict[str, float]:
        return {
            tier: round(sum(max(0.0, ms - before.get(tier, {}).get(pid, 0.0)) for pid, ms in pids.items()), 1)
            for tier, pids in after.items()
        }
