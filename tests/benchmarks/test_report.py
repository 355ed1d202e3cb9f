"""The benchmark's own arithmetic, on the embedded profile: percentiles, schedules, the incident mix, seq
accounting, CPU deltas, targets and the report; and the baseline endpoint is routed only when asked for."""

import importlib.util
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import NoReverseMatch, reverse

from benchmarks import report as reporting
from benchmarks.consoles import Console
from benchmarks.cpu import CpuSampler
from benchmarks.drive import Phase
from benchmarks.load import EVENT_MIX, IncidentMix, demo_districts, point_in_polygon, schedule
from benchmarks.procs import clean_env
from benchmarks.runner import Options
from benchmarks.stack import with_database
from benchmarks.stats import Distribution, HdrHistogram, exact_percentile


def test_exact_percentiles_are_nearest_rank():
    values = list(range(1, 101))
    assert exact_percentile(values, 50) == 50
    assert exact_percentile(values, 99) == 99
    assert exact_percentile(values, 100) == 100
    assert exact_percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        exact_percentile([], 50)


@pytest.mark.parametrize("use_hdr", [False, True])
def test_distribution_summary(use_hdr):
    if use_hdr and HdrHistogram is None:
        pytest.skip("hdrhistogram not installed")
    d = Distribution(use_hdr=use_hdr)
    assert d.summary()["p99"] is None
    for ms in range(1, 1001):
        d.record(float(ms))
    s = d.summary()
    assert s["count"] == 1000 and s["max"] == 1000.0 and s["mean"] == pytest.approx(500.5)
    for key, exact in (("p50", 500), ("p95", 950), ("p99", 990)):
        assert s[key] == pytest.approx(exact, rel=0.002)  # HDR: 3 significant digits


def test_open_loop_schedule():
    offsets = schedule([(2, 3), (20, 1), (2, 2)])
    assert len(offsets) == 6 + 20 + 4
    assert offsets[:6] == [0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert offsets[6] == 3.0 and offsets[25] == pytest.approx(3.95)
    assert offsets[26:] == [4.0, 4.5, 5.0, 5.5]
    assert offsets == sorted(offsets)


def test_incident_mix_is_realistic_and_inside_the_city():
    from pathlib import Path

    definitions = {p.stem for p in Path("workflows/definitions").glob("*.yaml")}
    assert set(EVENT_MIX) <= definitions
    districts = {d.code: d for d in demo_districts()}
    mix = IncidentMix(seed=1)
    keys, types, inside = set(), set(), 0
    for _ in range(300):
        key, body = mix.next()
        keys.add(key)
        types.add(body["event_type"])
        assert 1 <= body["severity"] <= 5
        code = body["address"].split()[0]
        lat, lon = body["location"]["lat"], body["location"]["lon"]
        inside += point_in_polygon(lon, lat, districts[code].polygon)
    assert len(keys) == 300 and types == set(EVENT_MIX)
    assert inside >= 298  # rounding to 6 decimals may put a point on a border
    assert IncidentMix(seed=1).next() == IncidentMix(seed=1).next()  # reproducible
    assert all("source" not in mix.next()[1] for _ in range(50))  # no triage share: the console's own reports


def test_a_share_of_the_mix_comes_from_the_hotline_and_waits_for_triage():
    mix = IncidentMix(seed=3, triage_share=0.3)
    hotline = sum(mix.next()[1].get("source") == "hotline" for _ in range(1000))
    assert 250 <= hotline <= 350


def _console():
    bench = SimpleNamespace(phase=Phase("p", "load", "incident", []), note=lambda text: None)
    return Console(bench, 0, "/ws/console/", "dispatcher", audit=True), bench


def test_console_counts_gaps_duplicates_and_tails():
    console, bench = _console()
    at = "2026-01-01T00:00:00+00:00"
    console.on_frame(json.dumps({"type": "stream.opened", "head": 10}), 1767225600.2)
    assert console.last == 10 and console.phase_start == 10
    msg = lambda seq: {"seq": seq, "type": "work_order.offered", "at": at, "incident": {"id": 1}, "work_order": {"id": seq}}  # noqa: E731
    console.on_frame(json.dumps(msg(11)), 1767225600.2)
    console.on_frame(json.dumps([msg(13), msg(14), msg(14)]), 1767225600.3)
    assert console.gaps == [(12, 12)] and console.duplicates == 1 and console.received == 3
    assert console.lost(head=14) == 1
    assert console.lost(head=16) == 3  # 12 skipped, 15 and 16 never came
    push = bench.phase.push.summary()
    assert push["count"] == 3 and push["p50"] == pytest.approx(300, rel=0.01)  # 200, 300, 300 ms after "at"
    assert console.offered_seen == {11, 13, 14}


def test_console_storm_catch_up_is_timed_and_replays_are_not_push_latency():
    console, bench = _console()
    at = "2026-01-01T00:00:00+00:00"
    console.on_frame(json.dumps({"type": "stream.opened", "head": 5}), 100.0)
    console.storming_since = 1767225600.0
    console.on_frame(json.dumps({"type": "stream.opened", "head": 7}), 1767225600.1)  # reconnected ?since=5
    assert bench.phase.caught_up == 0
    replay = [{"seq": s, "type": "incident.created", "at": at, "incident": {"id": s}} for s in (6, 7)]
    console.on_frame(json.dumps(replay), 1767225600.5)
    assert bench.phase.caught_up == 1 and bench.phase.catchup.summary()["max"] == pytest.approx(500, rel=0.01)
    assert bench.phase.push.count == 0  # replayed, not pushed
    assert console.created_seen == {6, 7}


def test_cpu_delta_ignores_exited_processes():
    before = {"server": {1: 100.0}, "postgres": {2: 50.0, 3: 70.0}}
    after = {"server": {1: 160.0}, "postgres": {2: 55.0, 4: 10.0}}  # 3 exited, 4 is new
    assert CpuSampler.delta(before, after) == {"server": 60.0, "postgres": 15.0}


def test_cpu_of_a_tier_sums_every_process_given():
    """``--servers 2``: the server tier is both servers' processes (and their children)."""
    procs = [subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(1)"]) for _ in range(2)]
    try:
        sample = CpuSampler({"server": [p.pid for p in procs], "worker": procs[0].pid}, postgres=False).sample()
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert set(sample["server"]) == {p.pid for p in procs}
    assert set(sample["worker"]) == {procs[0].pid}


def test_storm_refuses_an_empty_layout():
    for args in (["--servers", "0"], ["--workers", "0"], ["--base-url", "http://127.0.0.1:1", "--servers", "2"]):
        with pytest.raises(CommandError, match="--servers|--workers"):
            call_command("storm", *args)


def test_database_url_naming():
    assert with_database("postgres://postgres@127.0.0.1:5432/", "x") == "postgres://postgres@127.0.0.1:5432/x"
    assert with_database("postgres://u:p@h/liandong_ci?sslmode=disable", "postgres") == "postgres://u:p@h/postgres?sslmode=disable"


def _phase(kind, accepted, cpu, **marks):
    phase = Phase("steady", "x", kind, [(5, 1)], marks=dict(marks))
    phase.sent = phase.accepted = accepted
    for ms in (10, 20, 30):
        phase.intake.record(ms)
        if kind == "incident":
            phase.routing.record(ms * 30)
            phase.push.record(ms * 10)
    consoles = {"gaps": 0, "duplicates": 0, "received": 9, "drops": 0, "lost": 0}
    return reporting.phase_result(phase, cpu, consoles, {"missing_expected": 0} if kind == "incident" else None)


def test_profile_figures_targets_and_table():
    base_cpu = {"server": 10.0, "worker": 2.0, "postgres_db": 3.0, "postgres": 5.0}
    load_cpu = {"server": 20.0, "worker": 20.0, "postgres_db": 5.0, "postgres": 9.0}
    result = reporting.profile_result("steady", [_phase("baseline", 5, base_cpu), _phase("incident", 5, load_cpu),
                                                 _phase("baseline", 5, base_cpu)], Options(profiles=["steady"]))
    f = result["figures"]
    assert f["baseline_cpu_ms_per_request"]["total"] == pytest.approx(3.0)  # (10+2+3)*2 / 10, postgres_db not postgres
    assert f["cpu_ms_per_incident"]["total"] == pytest.approx(9.0)  # (20+20+5) / 5
    assert f["cpu_ratio"] == pytest.approx(3.0)
    assert f["cpu_ratio_by_tier"]["worker"] == pytest.approx(10.0)  # 4 ms vs 0.4 ms
    assert f["intake_p99_ms"] == pytest.approx(30, rel=0.01) and f["routing_p99_ms"] == pytest.approx(900, rel=0.01)
    checks = {c["figure"]: c["pass"] for c in result["checks"]}
    assert checks == {"errors": True, "lost_events": True, "intake_p99_ms": True, "routing_p99_ms": False,
                      "push_p99_ms": True, "cpu_ratio": True}
    report = reporting.build_report(Options(profiles=["steady"]), {"steady": result}, started=__import__("datetime").datetime.now(),
                                    own_stack=True, base_url="http://x", database="d", notes=[])
    assert "password" not in report["options"]
    json.dumps(report)
    table = reporting.render(report)
    assert "routing p99" in table and "[FAIL]" in table and "[ok]" in table
    assert "steady: routing p99 <= 500 ms" in table


def test_baseline_endpoint_is_not_routed_by_default():
    with pytest.raises(NoReverseMatch):
        reverse("bench-baseline")


def test_baseline_endpoint_is_routed_when_enabled():
    spec = importlib.util.find_spec("dispatch.urls")
    module = importlib.util.module_from_spec(spec)  # a fresh copy: the project's URL configuration is untouched
    with override_settings(BENCHMARK_ENDPOINTS=True):
        spec.loader.exec_module(module)
    assert reverse("bench-baseline", urlconf=module) == "/bench/baseline/"


@pytest.mark.django_db
def test_baseline_endpoint_inserts_one_row():
    from rest_framework.test import APIRequestFactory, force_authenticate

    from benchmarks.models import Probe
    from benchmarks.views import BaselineView
    from dispatch.models import User

    user = User.objects.get(username="dispatcher")
    request = APIRequestFactory().post("/bench/baseline/", {"note": "x"}, format="json")
    force_authenticate(request, user=user)
    response = BaselineView.as_view()(request)
    assert response.status_code == 201 and Probe.objects.filter(pk=response.data["id"], note="x").exists()
    anonymous = BaselineView.as_view()(APIRequestFactory().post("/bench/baseline/", {}, format="json"))
    assert anonymous.status_code == 401


def test_a_stack_started_by_a_test_worker_keeps_its_own_redis_database(monkeypatch):
    """dispatch/settings.py moves a pytest-xdist worker's Redis database by its number; a server, worker or beat a
    test starts is not one: with gw1 passed on, a stack on database 12 landed on 11, another stack's, and each
    stack's worker took the other's routing jobs."""
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    env = clean_env(REDIS_URL="redis://127.0.0.1:6379/12")
    assert not [key for key in env if key.startswith("PYTEST_XDIST")]
    assert env["REDIS_URL"] == "redis://127.0.0.1:6379/12"
