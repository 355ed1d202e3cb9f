"""The routing rules, the districts and the reportable event types are kept per process
(``departments.services.selectors``): read once, dropped when this process changes a rule, its districts, a
district, a department, an event type or a workflow version, and read again after ``REFERENCE_DATA_SECONDS``
whatever happened elsewhere."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from departments.models import Department, District, RoutingRule
from departments.services.selectors import district_at, event_type_reportable, routing_rules
from workflows.models import EventType

pytestmark = pytest.mark.django_db


def _rule(**fields) -> RoutingRule:
    return RoutingRule.objects.create(event_type=EventType.objects.get(code="waterlogging"),
                                      department=Department.objects.get(code="environment"), action="dispatch", **fields)


def test_read_once_then_from_memory():
    first = routing_rules()
    with CaptureQueriesContext(connection) as ctx:
        again = routing_rules()
    assert again == first and len(ctx.captured_queries) == 0


def test_a_change_made_here_is_seen_at_once():
    before = {r.id for r in routing_rules()}
    rule = _rule(min_severity=4)
    assert {r.id for r in routing_rules()} == before | {rule.pk}

    rule.min_severity = 2
    rule.save()
    assert next(r for r in routing_rules() if r.id == rule.pk).min_severity == 2

    district = District.objects.order_by("code").first()
    rule.districts.set([district])
    assert next(r for r in routing_rules() if r.id == rule.pk).district_ids == frozenset({district.pk})

    Department.objects.filter(code="environment").first().save()  # a department renamed, say: read again
    with CaptureQueriesContext(connection) as ctx:
        routing_rules()
    assert len(ctx.captured_queries) == 2

    rule.delete()
    assert {r.id for r in routing_rules()} == before


def test_a_change_made_elsewhere_is_seen_within_the_ttl(settings):
    """Another process's change sends this one no signal (an UPDATE sends none either): seen after the TTL."""
    settings.REFERENCE_DATA_SECONDS = 0.3
    rule = _rule(min_severity=4)
    assert next(r for r in routing_rules() if r.id == rule.pk).min_severity == 4
    RoutingRule.objects.filter(pk=rule.pk).update(min_severity=1)
    assert next(r for r in routing_rules() if r.id == rule.pk).min_severity == 4  # still the copy in memory
    time.sleep(0.35)
    assert next(r for r in routing_rules() if r.id == rule.pk).min_severity == 1


def test_districts_are_located_from_memory_and_a_new_border_at_once():
    district = District.objects.order_by("code").first()
    lon, lat = district.polygon[0]
    inside = (lat + sum(p[1] for p in district.polygon) / len(district.polygon)) / 2, \
        (lon + sum(p[0] for p in district.polygon) / len(district.polygon)) / 2
    found = district_at(lat=inside[0], lon=inside[1])
    assert found is not None
    with CaptureQueriesContext(connection) as ctx:
        assert district_at(lat=inside[0], lon=inside[1]) == found
    assert len(ctx.captured_queries) == 0
    found.polygon = [[0.0, 0.0], [0.0, 0.001], [0.001, 0.0]]  # moved far away
    found.save()
    assert district_at(lat=inside[0], lon=inside[1]) != found


def test_event_types_are_read_once_and_a_deactivation_here_at_once(settings):
    settings.REFERENCE_DATA_SECONDS = 60
    waterlogging = event_type_reportable("waterlogging")
    assert waterlogging is not None and waterlogging.active_version is not None
    with CaptureQueriesContext(connection) as ctx:
        assert event_type_reportable("waterlogging") is waterlogging
        assert event_type_reportable("no_such_type") is None
    assert len(ctx.captured_queries) == 0
    stored = EventType.objects.get(code="waterlogging")
    stored.is_active = False
    stored.save()
    assert event_type_reportable("waterlogging") is None


def test_an_event_type_changed_elsewhere_is_seen_within_the_ttl(settings):
    settings.REFERENCE_DATA_SECONDS = 0.3
    assert event_type_reportable("waterlogging") is not None
    EventType.objects.filter(code="waterlogging").update(is_active=False)  # no signal, as from another process
    assert event_type_reportable("waterlogging") is not None  # still the copy in memory
    time.sleep(0.35)
    assert event_type_reportable("waterlogging") is None
