"""The surge benchmark's runner (``manage.py storm``): start a stack (``benchmarks.stack``) or target one, drive
open-loop load and live consoles through the profiles (``benchmarks.drive``, ``benchmarks.consoles``), measure
(``benchmarks.measure``), and build the report (``benchmarks.report`` assembles and renders it)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import datetime

from benchmarks import report as reporting
from benchmarks.cpu import CpuSampler
from benchmarks.drive import Bench
from benchmarks.stack import ServicesStack

PROFILES = ("steady", "surge", "console-storm")


@dataclass
class Options:
    profiles: list[str]
    rate: float = 100.0
    duration: float = 120.0
    consoles: int = 200
    base: float = 20.0
    surge_factor: float = 10.0
    surge_before: float = 30.0
    surge_burst: float = 30.0
    surge_after: float = 60.0
    storm_at: float = 0.5
    triage_share: float = 0.3
    baseline_duration: float = 15.0
    base_url: str | None = None
    server_database_url: str | None = None
    database_url: str = "postgres://postgres@127.0.0.1:5432/"
    redis_url: str = "redis://127.0.0.1:6379/12"
    username: str = "dispatcher"
    password: str = "liandong-demo"
    seed: int = 7
    late_ms: float = 10.0
    drain_timeout: float = 120.0
    servers: int = 1
    workers: int = 1
    keep: bool = False
    progress: bool = True


def stack_for(options: Options):
    """The benchmark's own stack (not started): a database of its own on ``--database-url``, the Redis database
    of ``--redis-url`` (refused if another client uses it, flushed), migrate + seed_demo, one ASGI server, one Celery
    worker (--concurrency 2) and beat, with the benchmark endpoint on and rate limits out of the way; with
    ``--servers`` and ``--workers``, that many ASGI servers behind HAProxy and Celery workers."""
    return ServicesStack(options.database_url, prefix="liandong_storm", tmp_prefix="storm-", redis_url=options.redis_url,
                         env={"BENCHMARK_ENDPOINTS": "true", "RATE_LIMIT_USER": "100000000/min",
                              "RATE_LIMIT_ANON": "100000000/min", "LOG_LEVEL": "WARNING"},
                         seed_password=secrets.token_urlsafe(12), keep=options.keep, servers=options.servers,
                         workers=options.workers)


def cpu_roots(stack: ServicesStack) -> dict[str, list[int]]:
    """The CPU tiers' processes: every ASGI server, every worker (main + pool children), HAProxy if it runs."""
    return {role: [stack.procs[name].pid for name in names]
            for role in ("server", "worker", "haproxy") if (names := stack.names(role))}


def run(options: Options, log=None) -> dict:
    log = log or (lambda text: print(text, file=sys.stderr))
    for name in ("httpx", "httpcore", "websockets"):  # one line per request would drown the progress display
        logging.getLogger(name).setLevel(logging.WARNING)
    started = datetime.now().astimezone()
    stack, failed = None, True
    try:
        if options.base_url:
            base_url, database_url, sampler, password = options.base_url, options.server_database_url, None, options.password
        else:
            stack = stack_for(options)
            log(f"storm: database {stack.name}, logs in {stack.tmp}; migrate + seed_demo ...")
            stack.start()
            time.sleep(2)  # the worker's pool children are up (their pids count in the CPU figures)
            sampler = CpuSampler(cpu_roots(stack), database=stack.name)
            base_url, database_url, password = stack.base, stack.database_url, stack.seed_password
        bench = Bench(options, base_url, database_url, sampler, password, log=log)
        profiles = asyncio.run(bench.run())
        failed = False
    finally:
        if stack is not None:
            stack.stop(keep_logs=failed)
            if failed or options.keep:
                log(f"storm: stack logs kept in {stack.tmp}")
    return reporting.build_report(options, profiles, started=started, own_stack=stack is not None,
                                  base_url=base_url, database=stack.name if stack else None, notes=bench.notes)
