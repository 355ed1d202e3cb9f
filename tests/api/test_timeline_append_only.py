"""Timeline rows are append-only at every layer, and the hash chain detects any change."""

import copy

import pytest
from django.db import DatabaseError, connection, transaction


@pytest.fixture
def rows(reported_incident):
    from dispatch.models import TimelineEvent

    events = list(TimelineEvent.objects.filter(incident_id=reported_incident["id"]).order_by("seq"))
    assert len(events) >= 4
    return events


def _snapshot(incident_id: int) -> list[tuple]:
    from dispatch.models import TimelineEvent

    return list(
        TimelineEvent.objects.filter(incident_id=incident_id).order_by("seq").values_list("seq", "kind", "data", "hash")
    )


# --- the model ----------------------------------------------------------------------------------------


def test_model_save_of_an_existing_row_is_refused(rows):
    from dispatch.core.models.timeline import AppendOnlyError

    event = rows[0]
    before = _snapshot(event.incident_id)
    event.kind = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.save(update_fields=["kind"])
    assert _snapshot(event.incident_id) == before


def test_model_delete_is_refused(rows):
    from dispatch.core.models.timeline import AppendOnlyError

    before = _snapshot(rows[0].incident_id)
    with pytest.raises(AppendOnlyError):
        rows[-1].delete()
    assert _snapshot(rows[0].incident_id) == before


# --- the queryset -------------------------------------------------------------------------------------


def test_queryset_update_and_delete_are_refused(rows):
    from dispatch.core.models.timeline import AppendOnlyError
    from dispatch.models import TimelineEvent

    incident_id = rows[0].incident_id
    before = _snapshot(incident_id)
    qs = TimelineEvent.objects.filter(incident_id=incident_id)
    with pytest.raises(AppendOnlyError):
        qs.update(kind="x")
    with pytest.raises(AppendOnlyError):
        qs.delete()
    with pytest.raises(AppendOnlyError):
        TimelineEvent.objects.all().delete()
    rows[0].kind = "x"
    with pytest.raises(AppendOnlyError), transaction.atomic():  # bulk_update opens its own atomic block
        TimelineEvent.objects.bulk_update([rows[0]], ["kind"])
    assert _snapshot(incident_id) == before


def test_base_manager_update_and_delete_are_refused_by_the_database(rows):
    """Around the custom queryset (the plain base manager) the database still refuses."""
    from dispatch.models import TimelineEvent

    incident_id = rows[0].incident_id
    before = _snapshot(incident_id)
    with pytest.raises(DatabaseError), transaction.atomic():
        TimelineEvent._base_manager.filter(incident_id=incident_id).update(kind="x")
    with pytest.raises(DatabaseError), transaction.atomic():
        TimelineEvent._base_manager.filter(pk=rows[-1].pk)._raw_delete(connection.alias)
    assert _snapshot(incident_id) == before


# --- raw SQL ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE dispatch_timelineevent SET kind='x'",
        "UPDATE dispatch_timelineevent SET data='{}' WHERE seq = 1",
        "UPDATE dispatch_timelineevent SET hash=prev_hash",
        "DELETE FROM dispatch_timelineevent",
        "DELETE FROM dispatch_timelineevent WHERE seq > 1",
    ],
)
def test_raw_sql_update_and_delete_are_refused(rows, sql):
    incident_id = rows[0].incident_id
    before = _snapshot(incident_id)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert _snapshot(incident_id) == before


def test_inserting_still_works_after_a_refused_change(rows, dispatcher):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE dispatch_timelineevent SET kind='x'")
    incident_id = rows[0].incident_id
    response = dispatcher.post(f"/api/incidents/{incident_id}/notes/", {"text": "still writable"})
    assert response.status_code == 201
    assert response.json()["seq"] == len(rows) + 1


# --- tampering is detectable --------------------------------------------------------------------------


def _copy(event):
    clone = copy.copy(event)
    clone.data = copy.deepcopy(event.data)
    return clone


def test_stored_hashes_verify(rows):
    from dispatch.core.timeline import timeline_verify

    for event in rows:
        assert event.compute_hash() == event.hash
    assert timeline_verify(rows[0].incident_id) is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda e: e.data.update(unit="XX-99"),
        lambda e: e.data.update(extra=True),
        lambda e: setattr(e, "kind", "work_order.accepted"),
        lambda e: setattr(e, "actor_label", "supervisor"),
        lambda e: setattr(e, "seq", e.seq + 1),
        lambda e: setattr(e, "prev_hash", "f" * 64),
        lambda e: setattr(e, "at", e.at.replace(microsecond=(e.at.microsecond + 1) % 1_000_000)),
    ],
    ids=["data-value", "data-key", "kind", "actor", "seq", "prev-hash", "time"],
)
def test_any_change_to_a_row_changes_its_hash(rows, tamper):
    original = rows[1]
    clone = _copy(original)
    tamper(clone)
    assert clone.compute_hash() != original.hash
    # The original is untouched, and still verifies.
    assert original.compute_hash() == original.hash


def test_an_unsaved_copy_with_changed_data_cannot_replace_the_row(rows):
    from django.db import IntegrityError

    from dispatch.models import TimelineEvent

    original = rows[1]
    forged = TimelineEvent(
        incident_id=original.incident_id, seq=original.seq, kind=original.kind, actor_label=original.actor_label,
        work_order_id=original.work_order_id, data={**original.data, "unit": "XX-99"}, at=original.at,
        prev_hash=original.prev_hash,
    )
    forged.hash = forged.compute_hash()
    assert forged.hash != original.hash
    # The chain would break at the next row: its prev_hash names the original.
    assert rows[2].prev_hash == original.hash != forged.hash
    # And it cannot be written in the original's place.
    with pytest.raises(IntegrityError), transaction.atomic():
        forged.save(force_insert=True)
    assert TimelineEvent.objects.get(pk=original.pk).hash == original.hash
