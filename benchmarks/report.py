"""The benchmark's figures: per-phase results, per-profile summaries with the issue's targets (pass/fail marks,
never assertions), the JSON report and the human table, and the progress display."""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import asdict

from benchmarks.stats import HdrHistogram

# Issue 7's targets. Each: (figure key, comparison, limit, label). The CPU target applies to every profile.
TARGETS = {
    "steady": [
        ("errors", "==", 0, "0 errors"),
        ("lost_events", "==", 0, "0 lost"),
        ("intake_p99_ms", "<=", 100, "intake p99 <= 100 ms"),
        ("routing_p99_ms", "<=", 500, "routing p99 <= 500 ms"),
        ("push_p99_ms", "<=", 500, "push p99 <= 500 ms"),
        ("cpu_ratio", "<=", 3, "CPU per incident <= 3x baseline"),
    ],
    "surge": [
        ("lost_events", "==", 0, "0 lost"),
        ("errors_5xx", "==", 0, "0 5xx"),
        ("drain_after_burst_s", "<=", 60, "drained within 60 s after the burst"),
        ("cpu_ratio", "<=", 3, "CPU per incident <= 3x baseline"),
    ],
    "console-storm": [
        ("lost_events", "==", 0, "0 lost"),
        ("not_caught_up", "==", 0, "every console caught up"),
        ("cpu_ratio", "<=", 3, "CPU per incident <= 3x baseline"),
    ],
}
TARGET_SCALE = "steady 100/s for 120 s with 200 consoles; surge 20 -> 200/s for 30 s"
TIERS = ("server", "worker", "haproxy", "postgres_db", "postgres")


def _passes(value, op: str, limit) -> bool | None:
    if value is None:
        return None
    return value == limit if op == "==" else value <= limit


def evaluate(profile: str, figures: dict) -> list[dict]:
    return [
        {"figure": key, "target": label, "value": figures.get(key), "pass": _passes(figures.get(key), op, limit)}
        for key, op, limit, label in TARGETS.get(profile, [])
    ]


def phase_result(phase, cpu: dict | None, consoles: dict, audit: dict | None) -> dict:
    marks = {k: v for k, v in phase.marks.items() if k not in ("heads", "wall_start", "storm_wall")}
    out = {
        "kind": phase.kind,
        "schedule": [{"rate_per_s": r, "seconds": s} for r, s in phase.segments],
        "sent": phase.sent, "accepted": phase.accepted, "triaged": phase.triaged,
        "late_sends": phase.late, "max_late_ms": round(phase.max_late_ms, 1),
        "errors": dict(sorted(phase.errors.items())),
        "intake_ms": phase.intake.summary(),
        "consoles": consoles,
        **marks,
        "cpu_ms": cpu,
        "cpu_ms_per_request": per_request(cpu, phase.accepted),
    }
    if phase.kind == "incident":
        out["routing_ms"] = phase.routing.summary()
        out["push_ms"] = phase.push.summary()
        out["backlog"] = [list(s) for s in phase.backlog]
        out["audit"] = audit
        if "storm_s" in phase.marks:
            out["catchup_ms"] = phase.catchup.summary()
    return out


def _with_total(cpu: dict | None) -> dict | None:
    if cpu is None:
        return None
    out = dict(cpu)
    database = cpu.get("postgres_db", cpu.get("postgres"))
    tiers = (cpu.get("server"), cpu.get("worker"), cpu.get("haproxy"), database)
    out["total"] = round(sum(v for v in tiers if v is not None), 1)
    return out


def per_request(cpu: dict | None, count: int) -> dict | None:
    cpu = _with_total(cpu)
    if cpu is None or not count:
        return None
    return {k: round(v / count, 3) for k, v in cpu.items()}


def profile_result(profile: str, phases: list[dict], options) -> dict:
    before, load, after = phases
    baseline_cpu = None
    if before["cpu_ms"] is not None and after["cpu_ms"] is not None:
        baseline_cpu = {k: before["cpu_ms"][k] + after["cpu_ms"].get(k, 0.0) for k in before["cpu_ms"]}
    baseline_per = per_request(baseline_cpu, before["accepted"] + after["accepted"])
    incident_per = load["cpu_ms_per_request"]
    ratio = None
    if baseline_per and incident_per:
        ratio = {k: (round(incident_per[k] / baseline_per[k], 2) if baseline_per.get(k) else None) for k in incident_per}
    consoles, audit = load["consoles"], load.get("audit") or {}
    errors = load["errors"]
    figures = {
        "sent": load["sent"], "accepted": load["accepted"], "triaged": load.get("triaged"),
        "late_sends": load["late_sends"],
        "errors": sum(errors.values()), "errors_by_status": errors,
        "errors_5xx": sum(n for k, n in errors.items() if k.split()[-1].isdigit() and int(k.split()[-1]) >= 500),
        "lost_events": consoles["lost"] + audit.get("missing_expected", 0),
        "seq_gaps": consoles["gaps"], "missing_expected": audit.get("missing_expected"),
        "console_drops": sum(p["consoles"]["drops"] for p in phases),  # sockets the server closed on us
        "unrouted": load.get("unrouted"),
        **{f"intake_{k}_ms": load["intake_ms"][k] for k in ("p50", "p95", "p99", "max")},
        **{f"routing_{k}_ms": load["routing_ms"][k] for k in ("p50", "p95", "p99", "max")},
        **{f"push_{k}_ms": load["push_ms"][k] for k in ("p50", "p95", "p99", "max")},
        "drain_after_burst_s": load.get("drain_after_burst_s"),
        "backlog_peak": load.get("backlog_peak"),
        "cpu_ms_per_incident": incident_per,
        "baseline_cpu_ms_per_request": baseline_per,
        "cpu_ratio_by_tier": ratio,
        "cpu_ratio": ratio.get("total") if ratio else None,
    }
    if "catchup_ms" in load:
        figures.update({f"catchup_{k}_ms": load["catchup_ms"][k] for k in ("p50", "p95", "p99", "max")})
        figures["not_caught_up"] = consoles.get("storm_consoles", 0) - consoles.get("storm_caught_up", 0)
    return {"figures": figures, "checks": evaluate(profile, figures),
            "phases": {"baseline_before": before, "load": load, "baseline_after": after}}


def build_report(options, profiles: dict, *, started, own_stack: bool, base_url: str, database: str | None,
                 notes: list[str]) -> dict:
    opts = asdict(options)
    opts.pop("password", None)
    return {
        "tool": "manage.py storm (issue 7 surge benchmark)",
        "started_at": started.isoformat(), "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": _cpus()},
        "stack": {"own": own_stack, "base_url": base_url, "database": database,
                  "cpu_tiers": "server (the ASGI servers), worker (main + pool children), postgres_db (this database's backends), "
                               "postgres (every postgres: process of the cluster), haproxy (with --servers above 1); "
                               "total = server + worker + haproxy + postgres_db"
                  if own_stack else None},
        "percentiles": "hdrhistogram" if HdrHistogram is not None else "exact",
        "latency_origin": "intake from the scheduled send time (open loop); routing from the incident.created "
                          "timeline row to the last first-round offer; push from the event's server time to receipt",
        "targets_at": TARGET_SCALE,
        "options": opts,
        "profiles": profiles,
        "notes": notes,
    }


def _cpus() -> int | None:
    return os.cpu_count()


# --- the table ---------------------------------------------------------------------------------------------

ROWS = [
    ("sent", "sent", ""), ("accepted", "accepted", ""), ("triaged (transition)", "triaged", ""), ("late sends", "late_sends", ""),
    ("errors", "errors", ""), ("errors by status", "errors_by_status", ""), ("lost events", "lost_events", ""), ("console drops", "console_drops", ""),
    ("unrouted", "unrouted", ""),
    *[(f"intake {p}", f"intake_{p}_ms", "ms") for p in ("p50", "p95", "p99", "max")],
    *[(f"routing {p}", f"routing_{p}_ms", "ms") for p in ("p50", "p95", "p99", "max")],
    *[(f"push {p}", f"push_{p}_ms", "ms") for p in ("p50", "p95", "p99", "max")],
    *[(f"catch-up {p}", f"catchup_{p}_ms", "ms") for p in ("p50", "p99", "max")],
    ("backlog peak", "backlog_peak", ""), ("drain after burst", "drain_after_burst_s", "s"),
]


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "none"
    if isinstance(value, float):
        value = f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return f"{value} {unit}".strip()


def render(report: dict) -> str:
    profiles = report["profiles"]
    names = list(profiles)
    rows: list[list[str]] = [["", *names]]
    for label, key, unit in ROWS:
        if all(key not in profiles[n]["figures"] for n in names):
            continue
        row = [label]
        for name in names:
            figures = profiles[name]["figures"]
            cell = _fmt(figures.get(key), unit) if key in figures else ""
            check = next((c for c in profiles[name]["checks"] if c["figure"] == key), None)
            if check is not None and check["pass"] is not None:
                cell += "  [ok]" if check["pass"] else "  [FAIL]"
            row.append(cell)
        rows.append(row)
    for tier in (*TIERS, "total"):
        if tier == "haproxy" and not any((profiles[n]["figures"].get("cpu_ms_per_incident") or {}).get(tier)
                                         for n in names):
            continue  # one server: no HAProxy in front
        row = [f"CPU ms/incident {tier}"]
        for name in names:
            f = profiles[name]["figures"]
            mine, base = (f.get("cpu_ms_per_incident") or {}).get(tier), (f.get("baseline_cpu_ms_per_request") or {}).get(tier)
            ratio = (f.get("cpu_ratio_by_tier") or {}).get(tier)
            cell = "-" if mine is None else f"{mine:.2f} (baseline {base:.2f}" + (f", x{ratio:.1f})" if ratio else ")")
            if tier == "total" and f.get("cpu_ratio") is not None:
                cell += "  [ok]" if f["cpu_ratio"] <= 3 else "  [FAIL]"
            row.append(cell)
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    head = (f"storm: {report['percentiles']} percentiles; targets ([ok]/[FAIL]) are set for {report['targets_at']}; "
            f"intake latency counts from the scheduled send time")
    failed = [f"{n}: {c['target']}" for n in names for c in profiles[n]["checks"] if c["pass"] is False]
    tail = "targets missed: " + "; ".join(failed) if failed else "targets: none missed"
    return "\n".join([head, "", *lines, "", tail])


# --- progress ------------------------------------------------------------------------------------------------


class Progress:
    """tqdm when installed, else one stderr line rewritten each second."""

    def __init__(self, label: str, total: int, enabled: bool = True):
        self.label, self.total, self.enabled, self.done = label, total, enabled, 0
        self.bar = None
        self._status = ""
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, desc=label, unit="req", file=sys.stderr, leave=True)

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)

    def status(self, **values) -> None:
        if not self.enabled:
            return
        text = " ".join(f"{k}={v}" for k, v in values.items() if v is not None)
        if self.bar is not None:
            self.bar.set_postfix_str(text)
        else:
            sys.stderr.write(f"\r{self.label}: {self.done}/{self.total} sent {text}\033[K")
            sys.stderr.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            sys.stderr.write(f"\r{self.label}: {self.done}/{self.total} sent, done\033[K\n")
            sys.stderr.flush()
