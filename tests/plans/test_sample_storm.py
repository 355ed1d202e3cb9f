"""The sample storm (plans/samples/rainstorm/) replayed at its own pace on a travelled clock: the warnings arrive at
their sent times (08:00 blue .. 17:00 cancel), leads acknowledge some tasks and let others run out, citizens report
flooding inside and outside the area. Asserts what activated, who acknowledged, what escalated and what reverted,
and prints the story with its timings (``-s``): the closing note of issue 15 quotes it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dispatch.models import Incident, TimelineEvent
from plans.models import Activation, ActivationEvent, ActivationTask
from plans.services.activations import activation_timeline_verify
from tests.plans.test_cap_inbound import ORIGIN, TEXTS, doc, source  # noqa: F401 - the source fixture

pytestmark = pytest.mark.django_db

RIVERSIDE_ROAD = {"lat": 31.214, "lon": 121.425}  # riverside: inside the area from the first warning
HIGHTECH_PARK = {"lat": 31.26, "lon": 121.47}  # hightech: inside only while red


def escalation_story(task_id: int) -> str:
    """When the task went overdue and when each step of its chain told whom (minutes after the first warning)."""
    rows = ActivationEvent.objects.filter(kind__in=["task.overdue", "task.escalated"], data__task=task_id).order_by("seq")
    first = ActivationEvent.objects.filter(activation__tasks__pk=task_id).order_by("seq").first()
    origin = first.at if first else None
    return ", ".join(
        f"{'overdue' if r.kind == 'task.overdue' else 'told ' + r.data['notify']} T+{(r.at - origin).total_seconds() / 60:.0f}"
        for r in rows[:4]
    ) + (f" (chain {rows.count() - 1} steps in all)" if rows.count() > 4 else "")


def at(name: str):
    """How long after the first warning this sample was sent."""
    from plans.management.commands.replay_cap import sent_of

    return sent_of(TEXTS[name]) - ORIGIN


def test_the_sample_storm_replayed(source, clock, sweep, api_as, report_figures):  # noqa: F811 - fixture
    start = timezone.now()
    story: list[str] = []

    def say(text: str) -> None:
        story.append(f"T+{(timezone.now() - start).total_seconds() / 60:5.0f} min  {text}")

    def advance_to(offset: timedelta) -> None:
        """Move the clock to ``offset`` after the first warning, sweeping each minute (as beat would, every 2 s)."""
        while timezone.now() - start < offset:
            clock.shift(min(timedelta(minutes=1), offset - (timezone.now() - start)))
            sweep()

    def post(name: str) -> dict:
        advance_to(at(name))
        body = source.post(doc(name, now=start)).json()
        activation = body["activation"] or {}
        say(f"{name}: {body['outcome']}" + (f", level {activation['level']} over {', '.join(activation['districts'])}"
                                            if activation else ""))
        return body

    dispatcher, leads = api_as("dispatcher"), {d: api_as(f"{d}_lead") for d in
                                               ("city_management", "traffic_police", "transit", "environment")}

    def acknowledge(department: str, activation_id: int) -> None:
        response = leads[department].post(f"/api/activations/{activation_id}/acknowledge/")
        task = next(t for t in response.json()["tasks"] if t["department"] == department)
        row = ActivationEvent.objects.filter(kind="task.acknowledged", data__department=department).last()
        say(f"{department}_lead acknowledged the level {task['level']} task "
            f"{row.data['seconds'] / 60:.0f} min after it was given" + (" (late)" if row.data["late_seconds"] else ""))

    blue = post("01-blue-alert.xml")
    activation_id = blue["activation"]["id"]
    assert blue["outcome"] == "started" and blue["activation"]["level"] == "IV"
    advance_to(timedelta(minutes=12))
    acknowledge("city_management", activation_id)
    # environment lets its 30-minute window run out: overdue, its chain tells the department again (reoffer) and a
    # minute later the leads; the lead acknowledges before the command center is told.
    advance_to(timedelta(minutes=31))
    env = ActivationTask.objects.get(activation_id=activation_id, department__code="environment", level="IV")
    assert env.state == "overdue"
    say(f"environment's level IV task overdue at its 30 min window; escalation steps so far: "
        f"{[e.data['notify'] for e in ActivationEvent.objects.filter(kind='task.escalated', data__department='environment')]}")
    advance_to(timedelta(minutes=32))
    acknowledge("environment", activation_id)

    yellow = post("02-yellow-update.xml")
    assert yellow["activation"]["level"] == "III"
    advance_to(at("02-yellow-update.xml") + timedelta(minutes=8))
    for department in ("city_management", "traffic_police", "transit"):
        acknowledge(department, activation_id)
    # environment lets this one go all the way to the command center.
    advance_to(at("02-yellow-update.xml") + timedelta(minutes=20 + 1 + 2 + 3))
    escalated = ActivationTask.objects.get(activation_id=activation_id, department__code="environment", level="III")
    assert escalated.state == "escalated"
    say("environment's level III task, never acknowledged: " + escalation_story(escalated.pk))

    orange = post("03-orange-update.xml")
    assert orange["activation"]["level"] == "II"
    hazards = Incident.objects.filter(external_id__startswith=f"plan-{activation_id}-")
    say(f"hazard points reported as incidents: {[i.number + ' ' + i.title for i in hazards]}")
    assert hazards.count() == 1
    advance_to(at("03-orange-update.xml") + timedelta(minutes=2))
    inside = dispatcher.post("/api/incidents/", {"event_type": "waterlogging", "title": "Riverside Rd flooded",
                                                 "severity": 3, "location": RIVERSIDE_ROAD}).json()
    inside = dispatcher.get(f"/api/incidents/{inside['id']}/").json()
    orders = {o["department"]: (o["priority"], o["ack_timeout_seconds"]) for o in inside["work_orders"]}
    assert inside["activation"] == activation_id and "environment" in orders
    assert all(priority in ("high", "critical") and ack <= 180 for priority, ack in orders.values())
    say(f"{inside['number']} reported in riverside: routed with level II overrides {orders}")
    for department in ("city_management", "traffic_police", "transit", "environment"):
        acknowledge(department, activation_id)

    red = post("04-red-update.xml")
    assert red["activation"]["level"] == "I" and "hightech" in red["activation"]["districts"]
    say(f"hazard points now: {Incident.objects.filter(external_id__startswith=f'plan-{activation_id}-').count()}")
    advance_to(at("04-red-update.xml") + timedelta(minutes=3))
    for department in ("city_management", "traffic_police", "transit", "environment"):
        acknowledge(department, activation_id)
    park = dispatcher.post("/api/incidents/", {"event_type": "waterlogging", "title": "Science park basement",
                                               "severity": 4, "location": HIGHTECH_PARK}).json()
    assert park["activation"] == activation_id

    down = post("05-orange-downgrade.xml")
    assert down["activation"]["level"] == "II" and "hightech" not in down["activation"]["districts"]
    later = dispatcher.post("/api/incidents/", {"event_type": "waterlogging", "title": "Science park again",
                                                "severity": 4, "location": HIGHTECH_PARK}).json()
    assert later["activation"] is None  # hightech left the area with the downgrade
    say("the downgrade took hightech out of the area: a new report there is routed normally")
    advance_to(at("05-orange-downgrade.xml") + timedelta(minutes=4))
    acknowledge("traffic_police", activation_id)

    advance_to(at("06-cancel.xml") - timedelta(minutes=1))
    for task in ActivationTask.objects.filter(activation_id=activation_id, level="II", state__in=["overdue", "escalated"],
                                              created_at__gte=start + at("05-orange-downgrade.xml")):
        say(f"{task.department.code}'s level II task after the downgrade, never acknowledged: {escalation_story(task.pk)}")
    cancel = post("06-cancel.xml")
    assert cancel["outcome"] == "ended"
    cancelled = ActivationTask.objects.filter(activation_id=activation_id, level="II", state="cancelled")
    say(f"ended: the level II tasks not yet acknowledged were cancelled ({sorted(t.department.code for t in cancelled)}); "
        f"{Incident.objects.filter(activation_id=activation_id).count()} incidents keep what they were given")
    assert sorted(t.department.code for t in cancelled) == ["city_management", "environment", "transit"]
    after = dispatcher.post("/api/incidents/", {"event_type": "waterlogging", "title": "Riverside Rd again",
                                                "severity": 3, "location": RIVERSIDE_ROAD}).json()
    assert after["activation"] is None
    assert TimelineEvent.objects.filter(incident_id=inside["id"], kind="incident.plan_overrides").count() == 1

    for name in ("90-unmatched-heat.xml", "91-outside-city.xml"):
        body = source.post(doc(name, now=timezone.now())).json()
        say(f"{name}: {body['outcome']} ({body['detail']})")
        assert body["outcome"] in ("unmatched", "outside")

    activation = Activation.objects.get(pk=activation_id)
    assert not activation.active and activation_timeline_verify(activation_id) is None
    kinds = list(ActivationEvent.objects.filter(activation_id=activation_id).values_list("kind", flat=True))
    report_figures("[sample storm]\n  " + "\n  ".join(story))
    report_figures(f"  activation timeline: {len(kinds)} rows, hash chain intact; "
                   + ", ".join(f"{k} x{kinds.count(k)}" for k in dict.fromkeys(kinds)))
