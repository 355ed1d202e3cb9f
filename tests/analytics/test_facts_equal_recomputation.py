"""The live facts equal a recomputation from the timeline, field by field, after a random workload through the API:
reports (console ones routed at once, hotline ones triaged), accepts, departures, arrivals, completions, declines,
expiries and escalations (the clock moved past acknowledgement windows and swept), returns upheld and rejected,
extensions asked and decided, pauses, handling and SLA breaches, rework, cancels, merges and unmerges, relocations."""

import json
import random
from datetime import timedelta

import pytest
from django.core.management import call_command

from analytics.models import INCIDENT_FIELDS, ORDER_FIELDS, IncidentFact, OrderFact
from analytics.services.facts import facts_from_timeline, state_kinds
from analytics.services.fold import fold_export
from departments.models import WorkOrder
from dispatch.models import Incident, TimelineEvent

pytestmark = pytest.mark.django_db

SEED = 20261205
DEPARTMENTS = ("city_management", "traffic_police", "transit", "environment")


def _stored() -> tuple[dict, dict]:
    return (
        {f.pk: {n: getattr(f, n) for n in INCIDENT_FIELDS} for f in IncidentFact.objects.all()},
        {f.pk: {n: getattr(f, n) for n in ORDER_FIELDS} for f in OrderFact.objects.all()},
    )


def _recomputed() -> tuple[dict, dict]:
    facts = facts_from_timeline(list(Incident.objects.values_list("pk", flat=True)))
    return (
        {pk: dict(f.incident) for pk, f in facts.items() if f.incident is not None},
        {pk: dict(values) for f in facts.values() for pk, values in f.orders.items()},
    )


def _from_exports(api) -> tuple[dict, dict]:
    """Every incident's facts folded from its timeline export alone (as a supervisor downloads it), with the
    incident's pinned definition: no other table is read."""
    incidents: dict = {}
    orders: dict = {}
    for incident in Incident.objects.select_related("workflow_version").order_by("pk"):
        response = api.get(f"/api/incidents/{incident.pk}/timeline/export/?fmt=json")
        assert response.status_code == 200
        facts = fold_export(
            incident.pk, json.loads(response.content)["timeline"], state_kinds(incident.workflow_version)
        )
        if facts.incident is not None:
            incidents[incident.pk] = dict(facts.incident)
        orders.update({pk: dict(values) for pk, values in facts.orders.items()})
    return incidents, orders


def _assert_equal_field_by_field(live: tuple[dict, dict], again: tuple[dict, dict]) -> None:
    for name, ours, theirs in (("incident", live[0], again[0]), ("work order", live[1], again[1])):
        assert ours.keys() == theirs.keys(), f"{name} facts: live {sorted(ours)} vs recomputed {sorted(theirs)}"
        for pk in ours:
            for field, value in ours[pk].items():
                assert theirs[pk][field] == value, (
                    f"{name} {pk}.{field}: live {value!r}, recomputed {theirs[pk][field]!r}"
                )


class Workload:
    """Random but reproducible steps through the API, as the people and the clock would take them."""

    def __init__(self, rng: random.Random, api_as, clock, sweep, waterlogging: dict):
        self.rng, self.api_as, self.clock, self.sweep, self.payload = rng, api_as, clock, sweep, waterlogging
        self.dispatcher, self.supervisor = api_as("dispatcher"), api_as("supervisor")
        self.statuses: dict[str, int] = {}

    def _count(self, step: str, response) -> None:
        key = f"{step} {response.status_code}"
        self.statuses[key] = self.statuses.get(key, 0) + 1
        assert response.status_code < 500, (step, response.content)

    def report(self) -> None:
        rng = self.rng
        body = {
            **self.payload,
            "title": f"Random {rng.random():.6f}",
            "severity": rng.randint(1, 5),
            "location": {"lat": 31.2 + rng.random() * 0.03, "lon": 121.42 + rng.random() * 0.03},
        }
        if rng.random() < 0.3:
            body["source"] = "hotline"  # waits in "reported" until a dispatcher triages it
        if rng.random() < 0.1:
            body["exercise"] = True
        self._count("report", self.dispatcher.post("/api/incidents/", body))

    def _open_order(self, *states: str) -> WorkOrder | None:
        orders = list(WorkOrder.objects.filter(state__in=states).select_related("department").order_by("pk"))
        return self.rng.choice(orders) if orders else None

    def order_step(self) -> None:
        rng = self.rng
        order = self._open_order("offered", "accepted", "en_route", "on_scene")
        if order is None:
            return
        department = order.department.code
        staff, lead = self.api_as(f"{department}_staff"), self.api_as(f"{department}_lead")
        path = f"/api/work-orders/{order.pk}/actions/"
        choice = rng.random()
        if order.state == "offered":
            if choice < 0.6:
                self._count("accept", staff.post(path, {"action": "accept"}))
            elif choice < 0.75:
                self._count("decline", staff.post(path, {"action": "decline", "reason": "no crew free"}))
            elif choice < 0.9:
                code = rng.choice(["not_our_function", "wrong_district", "insufficient_info"])
                self._count("return", staff.post(path, {"action": "return", "reason_code": code, "note": "not ours"}))
            else:
                self._count(
                    "extension",
                    lead.post(path, {"action": "request_extension", "seconds": 900, "reason": "waiting for a pump"}),
                )
            return
        following = {"accepted": "depart", "en_route": "arrive", "on_scene": "complete"}[order.state]
        if choice < 0.65:
            self._count(following, staff.post(path, {"action": following}))
        elif choice < 0.75:
            self._count(
                "extension",
                lead.post(
                    path,
                    {
                        "action": "request_extension",
                        "seconds": rng.choice([600, 1800]),
                        "reason": "more water than expected",
                    },
                ),
            )
        elif choice < 0.85:
            action = "resume" if order.paused_at else "pause"
            self._count(action, staff.post(path, {"action": action, "pause_reason": "waiting_assessment"}))
        elif choice < 0.92 and order.state == "accepted":
            self._count(
                "return",
                staff.post(
                    path, {"action": "return", "reason_code": "wrong_district", "note": "other side of the river"}
                ),
            )
        else:
            self._count(
                "reassign",
                self.dispatcher.post(path, {"action": "reassign", "unit": order.unit_id or "", "reason": "closer"}),
            )

    def decide(self) -> None:
        rng = self.rng
        returned = self._open_order("returned")
        if returned is not None:
            api = self.supervisor if returned.return_count >= 2 else self.dispatcher
            others = [d for d in DEPARTMENTS if d != returned.department.code]
            body = (
                {"decision": "uphold", "department": rng.choice(others)}
                if rng.random() < 0.5
                else {"decision": "reject", "note": "It is yours"}
            )
            self._count(
                f"return {body['decision']}", api.post(f"/api/work-orders/{returned.pk}/return-decision/", body)
            )
        asked = WorkOrder.objects.filter(extensions__state="pending").order_by("pk").first()
        if asked is not None:
            decision = rng.choice(["approve", "reject"])
            self._count(
                f"extension {decision}",
                self.dispatcher.post(
                    f"/api/work-orders/{asked.pk}/extension-decision/", {"decision": decision, "note": "ok"}
                ),
            )

    def incident_step(self) -> None:
        rng = self.rng
        incidents = list(
            Incident.objects.filter(merged_into__isnull=True).exclude(state__in=["closed", "cancelled"]).order_by("pk")
        )
        if not incidents:
            return
        incident = rng.choice(incidents)
        path = f"/api/incidents/{incident.pk}/transitions/"
        transition = {"reported": "triage", "responding": "resolve", "verifying": rng.choice(["close", "rework"])}.get(
            incident.state
        )
        choice = rng.random()
        if choice < 0.1 and incident.state in ("reported", "responding"):
            self._count("cancel", self.dispatcher.post(path, {"transition": "cancel", "note": "false alarm"}))
        elif choice < 0.2:
            others = [
                i
                for i in incidents
                if i.pk != incident.pk and i.event_type_id == incident.event_type_id and not i.merged_reports.exists()
            ]
            if others and not incident.merged_reports.exists():
                self._count(
                    "merge",
                    self.dispatcher.post(
                        f"/api/incidents/{incident.pk}/merge/", {"into": rng.choice(others).pk, "note": "same place"}
                    ),
                )
        elif choice < 0.25:
            merged = Incident.objects.filter(merged_into__isnull=False).order_by("pk").first()
            if merged is not None:
                self._count("unmerge", self.dispatcher.post(f"/api/incidents/{merged.pk}/unmerge/", {"note": "no"}))
        elif choice < 0.3:
            self._count(
                "locate",
                self.dispatcher.post(
                    f"/api/incidents/{incident.pk}/location/", {"location": {"lat": 31.215, "lon": 121.435}}
                ),
            )
        elif transition:
            self._count(transition, self.dispatcher.post(path, {"transition": transition, "note": "checked"}))

    def finish(self) -> None:
        """Carry one responding incident's work to the end, resolve it, then close it or send it back for rework."""
        rng = self.rng
        candidates = list(Incident.objects.filter(state="responding", merged_into__isnull=True).order_by("pk"))
        incident = rng.choice(candidates) if candidates else None
        if incident is None:
            return
        following = {"offered": "accept", "accepted": "depart", "en_route": "arrive", "on_scene": "complete"}
        orders = WorkOrder.objects.filter(incident=incident, state__in=list(following)).order_by("pk")
        for order in orders.select_related("department"):
            staff = self.api_as(f"{order.department.code}_staff")
            if order.state == "offered" and rng.random() < 0.5:
                continue  # left on offer: resolving stands it down
            while order.state in following:
                step = following[order.state]
                response = staff.post(f"/api/work-orders/{order.pk}/actions/", {"action": step})
                self._count(step, response)
                if response.status_code != 200:
                    break
                order.refresh_from_db()
                self.clock.shift(timedelta(seconds=rng.choice([20, 60, 300])))
        path = f"/api/incidents/{incident.pk}/transitions/"
        self._count("resolve", self.dispatcher.post(path, {"transition": "resolve", "note": "done"}))
        self.clock.shift(timedelta(seconds=rng.choice([60, 600])))
        final = "rework" if rng.random() < 0.4 else "close"
        self._count(final, self.dispatcher.post(path, {"transition": final, "note": "checked on site"}))

    def time_passes(self) -> None:
        self.clock.shift(timedelta(seconds=self.rng.choice([5, 30, 90, 200, 400, 1500])))
        self.sweep()  # acknowledgement timeouts, escalation steps, handling and SLA breaches


def test_live_facts_equal_a_recomputation_after_a_random_workload(clock, sweep, api_as, waterlogging_payload):
    rng = random.Random(SEED)
    work = Workload(rng, api_as, clock, sweep, waterlogging_payload)
    for _ in range(6):
        work.report()
    for _ in range(450):
        step = rng.random()
        if step < 0.08:
            work.report()
        elif step < 0.55:
            work.order_step()
        elif step < 0.68:
            work.decide()
        elif step < 0.76:
            work.incident_step()
        elif step < 0.82:
            work.finish()
        else:
            work.time_passes()

    kinds = set(TimelineEvent.objects.values_list("kind", flat=True))
    expected = {
        "incident.created",
        "incident.transitioned",
        "incident.merged",
        "incident.located",
        "sla.breached",
        "work_order.offered",
        "work_order.accepted",
        "work_order.departed",
        "work_order.arrived",
        "work_order.completed",
        "work_order.declined",
        "work_order.expired",
        "work_order.escalated",
        "work_order.returned",
        "work_order.return_upheld",
        "work_order.return_rejected",
        "work_order.extension_requested",
        "work_order.extension_approved",
        "work_order.cancelled",
        "work_order.sla_breached",
        "work_order.paused",
    }
    print(f"\nworkload: {work.statuses}")
    assert expected <= kinds, f"the workload missed {sorted(expected - kinds)} ({work.statuses})"
    facts = IncidentFact.objects.all()
    assert facts.filter(rework_count__gt=0).exists() and facts.filter(cancelled=True).exists()
    assert facts.filter(closed_on_time__isnull=False).exists() and facts.filter(exercise=True).exists()

    live = _stored()
    assert len(live[0]) == Incident.objects.count() and len(live[1]) == WorkOrder.objects.count()
    _assert_equal_field_by_field(live, _recomputed())
    _assert_equal_field_by_field(live, _from_exports(work.supervisor))
    call_command("recompute_analytics", batch=7, stdout=open("/dev/null", "w"))  # noqa: SIM115
    _assert_equal_field_by_field(live, _stored())
