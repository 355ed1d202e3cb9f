"""Writing the facts: live, in the transaction of every recorded change, and by recomputation from the timeline.

``facts_record`` subscribes to recorded changes (``AnalyticsConfig.ready``). It is on the intake and routing path,
so per batch it reads at most the fact rows it folds (none for a new incident or new orders; all the incident's
orders for a relocation, merge or unmerge, whose copies of the incident's attributes it rewrites) and writes each at most
once: one insert or update of the incident's facts, one upsert of the orders' facts. Every writer of a change holds
the incident's row lock (or, on SQLite, the write lock), so this read-modify-write of one incident's facts never
races another. A change of an incident with no facts yet (reported before analytics existed) rebuilds its facts from
its whole timeline instead, once.

``facts_recompute`` applies the same ``fold`` to every incident's timeline, read in ``seq`` order in batches of
incidents, and rewrites their facts (``manage.py recompute_analytics``): idempotent, and equal to the live facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.db import transaction

from analytics.models import INCIDENT_FIELDS, ORDER_FIELDS, IncidentFact, OrderFact
from analytics.services.fold import COPIED_BY, Facts, StateKinds, Values, fold, folds, new_order, order_id
from departments.models import WorkOrder
from dispatch.core.changes import Change
from dispatch.models import Incident, TimelineEvent
from workflows.models import WorkflowVersion

RECOMPUTE_BATCH = 500  # incidents per transaction of a recomputation

_state_kinds: dict[int, StateKinds] = {}  # per workflow version (versions are immutable)


def state_kinds(version: WorkflowVersion) -> StateKinds:
    """What the facts need of a pinned definition, parsed once per version and process."""
    kinds = _state_kinds.get(version.pk)
    if kinds is None:
        kinds = _state_kinds[version.pk] = StateKinds.of(version.spec)
    return kinds


def _incident_state_kinds(incident: Incident) -> StateKinds:
    """The incident's pinned definition's kinds (its version read only the first time this process meets it)."""
    return _state_kinds.get(incident.workflow_version_id) or state_kinds(incident.workflow_version)


def _order_info(order: Any) -> dict[str, Any]:
    return {
        "dispatch_round": order.dispatch_round,
        "ack_timeout_seconds": order.ack_timeout_seconds,
        "due_at": order.due_at,
    }


def change_row(change: Change) -> dict[str, Any]:
    """A recorded change as ``fold`` reads a row (the same shape ``timeline_rows`` gives when recomputing)."""
    event = change.event
    assert event is not None  # record_changes sets each change's row before subscribers run
    return {
        "incident": event.incident_id,
        "kind": event.kind,
        "at": event.at,
        "data": event.data,
        "work_order": change.work_order.pk if change.work_order is not None else None,
        "actor": event.actor_label,
        "order": _order_info(change.work_order) if change.work_order is not None else None,
    }


# --- live --------------------------------------------------------------------------------------------------------


def facts_record(changes: list[Change]) -> None:
    """Subscriber of recorded changes: fold the batch's rows into the facts of its incident and orders."""
    rows = [change_row(change) for change in changes if folds(change.kind)]
    if not rows:
        return
    incident = changes[0].incident
    created = rows[0]["kind"] == "incident.created"
    fresh = {order_id(row) for row in rows if new_order(row)}
    wanted = {pk for row in rows if (pk := order_id(row)) is not None} - fresh
    # A row changing what the orders' facts copy of the incident (a relocation, a merge) rewrites all of them.
    every_order = any(row["kind"] in COPIED_BY for row in rows)
    stored_orders: dict[int, OrderFact] = {}
    stored_incident: IncidentFact | None = None
    if wanted or every_order:
        read = OrderFact.objects.select_related("incident")
        read = read.filter(incident_id=incident.pk) if every_order else read.filter(pk__in=wanted)
        for fact in read:
            stored_orders[fact.pk] = fact
            stored_incident = fact.incident
    if not created and stored_incident is None:
        stored_incident = IncidentFact.objects.filter(pk=incident.pk).first()
    if (not created and stored_incident is None) or len(stored_orders) < len(wanted):
        facts_rebuild(incident)  # facts missing (an incident older than analytics): from its timeline, once
        return
    before = Facts(
        incident=_values(stored_incident, INCIDENT_FIELDS) if stored_incident is not None else None,
        orders={pk: _values(fact, ORDER_FIELDS) for pk, fact in stored_orders.items()},
        states=_incident_state_kinds(incident) if _transitions(rows) else StateKinds(),
    )
    after = before
    for row in rows:
        after = fold(after, row)
    _save(before, after, new_incident=created)


def _transitions(rows: list[dict[str, Any]]) -> bool:
    return any(row["kind"] == "incident.transitioned" for row in rows)


def _values(instance: IncidentFact | OrderFact, fields: tuple[str, ...]) -> Values:
    return {name: getattr(instance, name) for name in fields}


def _save(before: Facts, after: Facts, *, new_incident: bool) -> None:
    """At most one write per table: the incident's facts (insert or changed fields), and every new or changed order's
    facts in one upsert."""
    if after.incident is not None and after.incident != before.incident:
        if new_incident or before.incident is None:
            IncidentFact.objects.create(**after.incident)
        else:
            changed = {k: v for k, v in after.incident.items() if before.incident.get(k) != v}
            IncidentFact.objects.filter(pk=after.incident["incident_id"]).update(**changed, dirty=True)
    orders = [OrderFact(**values) for pk, values in after.orders.items() if before.orders.get(pk) != values]
    if orders:  # each written dirty (the model's default): its day's columns are built again
        OrderFact.objects.bulk_create(
            orders,
            update_conflicts=True,
            unique_fields=["work_order"],
            update_fields=[f.name for f in OrderFact._meta.concrete_fields if not f.primary_key],
        )


# --- from the timeline -------------------------------------------------------------------------------------------


def facts_rebuild(incident: Incident) -> None:
    """Rewrite one incident's facts from its whole timeline (in the caller's transaction, under its lock)."""
    _rewrite([incident.pk])


def facts_recompute(incident_ids: Iterable[int] | None = None, *, batch: int = RECOMPUTE_BATCH) -> int:
    """Rewrite the facts of ``incident_ids`` (default: every incident) from their timelines, ``batch`` incidents per
    transaction, each batch's incidents locked while it is rewritten. Returns how many incidents were rewritten."""
    ids = Incident.objects.order_by("pk").values_list("pk", flat=True)
    if incident_ids is not None:
        ids = ids.filter(pk__in=list(incident_ids))
    done = 0
    for chunk in _chunks(iter(list(ids)), batch):  # the ids first: no cursor stays open across the batches' commits
        with transaction.atomic():
            locked = list(
                Incident.objects.select_for_update(no_key=True).filter(pk__in=chunk).order_by("pk").values_list("pk", flat=True)
            )
            _rewrite(locked)
        done += len(chunk)
    return done


def facts_from_timeline(incident_ids: list[int]) -> dict[int, Facts]:
    """Each incident's facts folded from its whole timeline (read in ``seq`` order): nothing is written."""
    versions = dict(Incident.objects.filter(pk__in=incident_ids).values_list("pk", "workflow_version_id"))
    kinds = {pk: state_kinds(v) for pk, v in WorkflowVersion.objects.in_bulk(set(versions.values())).items()}
    info = {
        pk: {"dispatch_round": r, "ack_timeout_seconds": a, "due_at": d}
        for pk, r, a, d in WorkOrder.objects.filter(incident_id__in=incident_ids).values_list(
            "pk", "dispatch_round", "ack_timeout_seconds", "due_at"
        )
    }
    out = {pk: Facts(incident=None, states=kinds[version]) for pk, version in versions.items()}
    for row in timeline_rows(incident_ids, info):
        out[row["incident"]] = fold(out[row["incident"]], row)
    return out


def timeline_rows(incident_ids: list[int], order_info: Mapping[int, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The incidents' timeline rows that change facts, in ``seq`` order per incident, as ``fold`` reads them."""
    rows = (
        TimelineEvent.objects.filter(incident_id__in=incident_ids)
        .order_by("incident_id", "seq")
        .values_list("incident_id", "kind", "at", "data", "work_order_id", "actor_label")
    )
    for incident_id, kind, at, data, work_order_id, actor in rows.iterator(chunk_size=2000):
        if folds(kind):
            yield {
                "incident": incident_id,
                "kind": kind,
                "at": at,
                "data": data,
                "work_order": work_order_id,
                "actor": actor,
                "order": order_info.get(work_order_id) if work_order_id else None,
            }


def _rewrite(incident_ids: list[int]) -> None:
    if not incident_ids:
        return
    facts = facts_from_timeline(incident_ids)
    OrderFact.objects.filter(incident_id__in=incident_ids).delete()
    IncidentFact.objects.filter(pk__in=incident_ids).delete()
    IncidentFact.objects.bulk_create([IncidentFact(**f.incident) for f in facts.values() if f.incident is not None])
    OrderFact.objects.bulk_create([OrderFact(**order) for f in facts.values() for order in f.orders.values()])


def _chunks(values: Iterator[int], size: int) -> Iterator[list[int]]:
    chunk: list[int] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
