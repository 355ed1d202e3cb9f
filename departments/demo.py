"""Loading the demo city (``departments/demo/city.yaml``): districts, departments, units, routing rules."""

from pathlib import Path

import yaml
from django.db import transaction

from departments.models import Department, District, EscalationChain, EscalationStep, RoutingRule, Unit
from workflows.definition import parse_duration
from workflows.models import EventType

CITY_FILE = Path(__file__).resolve().parent / "demo" / "city.yaml"


@transaction.atomic
def city_load(path: Path = CITY_FILE) -> dict:
    """Create or update the city's rows from ``path``. Idempotent: a second run changes nothing."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    districts = {}
    for d in data["districts"]:
        districts[d["code"]], _ = District.objects.update_or_create(
            code=d["code"], defaults={"name": d["name"], "polygon": d["polygon"]}
        )
    departments = {}
    for d in data["departments"]:
        departments[d["code"]], _ = Department.objects.update_or_create(code=d["code"], defaults={"name": d["name"]})
    for u in data["units"]:
        unit, created = Unit.objects.get_or_create(
            callsign=u["callsign"],
            defaults={"department": departments[u["department"]], "name": u["name"],
                      "lat": u["base"]["lat"], "lon": u["base"]["lon"]},
        )
        if created:
            unit.districts.set([districts[c] for c in u["districts"]])
    if not RoutingRule.objects.exists():
        for position, r in enumerate(data.get("routing_rules", []), start=1):
            event_type = None
            if r.get("event_type"):
                event_type, _ = EventType.objects.get_or_create(code=r["event_type"], defaults={"name": {}})
            rule = RoutingRule.objects.create(
                position=position * 10, event_type=event_type, state=r.get("state", ""),
                min_severity=r.get("min_severity", 1), max_severity=r.get("max_severity", 5),
                department=departments[r["department"]], action=r.get("action", "dispatch"),
                priority=r.get("priority", ""),
                ack_timeout_seconds=parse_duration(r["ack_timeout"]) if r.get("ack_timeout") else None,
                note=r.get("note", {}),
            )
            rule.districts.set([districts[c] for c in r.get("districts", [])])
    for c in data.get("escalation_chains", []):
        chain, created = EscalationChain.objects.get_or_create(
            department=departments[c["department"]], defaults={"repeat": c.get("repeat", 2)}
        )
        if created:
            for position, step in enumerate(c["steps"], start=1):
                EscalationStep.objects.create(
                    chain=chain, position=position, action=step["action"], wait_seconds=parse_duration(step["wait"])
                )
    return {"districts": len(districts), "departments": len(departments), "units": Unit.objects.count(),
            "routing_rules": RoutingRule.objects.count()}
