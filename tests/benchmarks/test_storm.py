"""``manage.py storm --profile all``, tiny, against real PostgreSQL and Redis (the services profile): the
report has its structure and nothing was lost. The figures themselves are not judged here."""

import json
import os
import subprocess

import pytest

from benchmarks.procs import PYTHON, ROOT, clean_env
from tests.e2e.procs import require_haproxy

pytestmark = [pytest.mark.e2e, pytest.mark.services]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.mark.timeout(900)
def test_storm_all_profiles_tiny(tmp_path, report_figures):
    redis_url = REDIS_URL.rsplit("/", 1)[0] + "/12" if REDIS_URL.count("/") >= 3 else REDIS_URL + "/12"
    report_path = tmp_path / "storm.json"
    result = subprocess.run(
        [PYTHON, "manage.py", "storm", "--profile", "all", "--rate", "5", "--duration", "5", "--consoles", "4",
         "--base", "2", "--surge-before", "2", "--surge-burst", "3", "--surge-after", "3", "--baseline-duration", "2",
         "--database-url", DATABASE_URL, "--redis-url", redis_url, "--report", str(report_path), "--no-progress"],
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=840,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    report = json.loads(report_path.read_text())
    report_figures(result.stdout)

    assert set(report) >= {"profiles", "options", "stack", "percentiles", "targets_at", "notes"}
    assert list(report["profiles"]) == ["steady", "surge", "console-storm"]
    expected_sent = {"steady": 25, "surge": 2 * 2 + 20 * 3 + 2 * 3, "console-storm": 25}
    for name, profile in report["profiles"].items():
        f = profile["figures"]
        assert set(profile["phases"]) == {"baseline_before", "load", "baseline_after"}
        assert f["sent"] == expected_sent[name]
        assert f["errors_5xx"] == 0, f["errors_by_status"]
        assert f["lost_events"] == 0 and f["seq_gaps"] == 0 and f["missing_expected"] == 0, (name, f)
        assert f["unrouted"] == 0
        for key in ("intake", "routing", "push"):
            assert f[f"{key}_p99_ms"] is not None and f[f"{key}_p50_ms"] <= f[f"{key}_max_ms"] + 1
        for tier in ("server", "worker", "postgres_db", "postgres", "total"):
            assert f["cpu_ms_per_incident"][tier] >= 0 and f["baseline_cpu_ms_per_request"][tier] >= 0
        assert f["cpu_ratio"] is not None
        assert {c["figure"] for c in profile["checks"]} and all("pass" in c for c in profile["checks"])
        assert profile["phases"]["baseline_before"]["accepted"] > 0
    assert report["profiles"]["surge"]["figures"]["drain_after_burst_s"] is not None
    assert report["profiles"]["surge"]["phases"]["load"]["backlog"]
    assert report["profiles"]["console-storm"]["figures"]["not_caught_up"] == 0
    assert report["profiles"]["console-storm"]["figures"]["catchup_p99_ms"] is not None


@pytest.mark.timeout(600)
def test_storm_on_two_servers_and_two_workers_behind_haproxy(tmp_path, report_figures):
    """The production layout on one host (README "Several servers and workers behind HAProxy"): the load goes
    through HAProxy to two ASGI servers, two workers route; nothing lost, everything routed, CPU per tier summed
    over its processes (HAProxy's own tier counted in the total)."""
    require_haproxy()
    redis_url = REDIS_URL.rsplit("/", 1)[0] + "/12" if REDIS_URL.count("/") >= 3 else REDIS_URL + "/12"
    report_path = tmp_path / "storm.json"
    result = subprocess.run(
        [PYTHON, "manage.py", "storm", "--profile", "steady", "--rate", "5", "--duration", "6", "--consoles", "6",
         "--baseline-duration", "2", "--servers", "2", "--workers", "2", "--database-url", DATABASE_URL,
         "--redis-url", redis_url, "--report", str(report_path), "--no-progress"],
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=540,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    report_figures(result.stdout)
    report = json.loads(report_path.read_text())
    assert report["options"]["servers"] == 2 and report["options"]["workers"] == 2
    assert report["stack"]["base_url"] != "" and ":" in report["stack"]["base_url"]
    f = report["profiles"]["steady"]["figures"]
    assert f["sent"] == 30 and f["accepted"] == 30 and f["errors"] == 0, f["errors_by_status"]
    assert f["lost_events"] == 0 and f["seq_gaps"] == 0 and f["unrouted"] == 0
    cpu = f["cpu_ms_per_incident"]
    assert cpu["haproxy"] > 0 and cpu["server"] > 0 and cpu["worker"] > 0
    assert cpu["total"] >= cpu["server"] + cpu["worker"] + cpu["haproxy"]


def test_storm_refuses_a_redis_database_another_client_uses():
    """A worker of another stack on the same Redis database would take this stack's jobs: refused, by name."""
    import redis

    from benchmarks.stack import refuse_shared_redis

    server = REDIS_URL.rsplit("/", 1)[0] if REDIS_URL.count("/") >= 3 else REDIS_URL
    probe = redis.Redis.from_url(server + "/0")
    busy = {int(c.get("db", -1)) for c in probe.client_list()}
    probe.close()
    free = next(db for db in range(15, -1, -1) if db not in busy)  # other suites use some databases meanwhile
    ours = redis.Redis.from_url(f"{server}/{free}")
    refuse_shared_redis(ours)  # nobody else there
    stranger = redis.Redis.from_url(f"{server}/{free}", client_name="stale-worker")
    stranger.ping()
    try:
        with pytest.raises(RuntimeError, match="another stack's worker") as refused:
            refuse_shared_redis(ours)
        assert "stale-worker" in str(refused.value)
    finally:
        stranger.close()
