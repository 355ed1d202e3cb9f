"""The retention policy, run by beat every night: personal data erased once its period after closing is over.

An incident's period starts when the incident that carries its work closed (itself, or for a merged duplicate the
incident it was merged into: the report's purpose is met when the work is) and lasts the days of its retention rule
(``privacy.models.RetentionRule``; the confidential days for a report whose reporter asked for confidentiality).
A reopened incident is open again: its clock restarts when it closes again. Candidates are read in batches, oldest
first, from a partial index (personal data not erased yet, reported before the shortest period could be over); each
due incident is erased in its own transaction (``privacy.services.erasure``), so a failure stops nothing but that
one, and a second run at once finds nothing to do.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from attachments.models import Attachment
from dispatch.models import Erasure, Incident, Open311Request
from dispatch.services.duplicates import version_final_states
from privacy.models import RetentionRule
from privacy.services.erasure import incident_pii_erase
from public.models import Feedback

audit_log = logging.getLogger("liandong.audit")


@dataclass(frozen=True)
class Period:
    days: int
    confidential_days: int
    rule: int | None  # the rule's id; None: the settings' default

    def as_data(self, confidential: bool) -> dict:
        return {"id": self.rule, "days": self.confidential_days if confidential else self.days,
                "confidential": confidential}


class Policy:
    """The rules in force, looked up most specific first."""

    def __init__(self) -> None:
        self.default = Period(settings.PII_RETENTION_DAYS, settings.PII_RETENTION_CONFIDENTIAL_DAYS, None)
        self.rules = {
            (r.source, r.event_type_id): Period(r.days, r.confidential_days, r.pk) for r in RetentionRule.objects.all()
        }

    def period(self, source: str, event_type_id: int) -> Period:
        for key in ((source, event_type_id), ("", event_type_id), (source, None), ("", None)):
            if key in self.rules:
                return self.rules[key]
        return self.default

    def shortest_days(self) -> int:
        return min(min(p.days, p.confidential_days) for p in [self.default, *self.rules.values()])


@dataclass
class RetentionRun:
    """What a run did: figures for the log, the audit record and ``manage.py retention_run``."""

    scanned: int = 0  # candidates read
    erased: int = 0  # incidents whose personal data was erased (a pii.erased timeline row each)
    marked: int = 0  # incidents whose period was over with nothing to erase (marked only)
    not_due: int = 0  # still open, or closed more recently than their period
    photos: int = 0
    feedback_texts: int = 0
    failed: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def incident_closed_at(incident: Incident) -> datetime | None:
    """When the incident carrying ``incident``'s work entered a final state, or None while it is open."""
    carrier = incident.merged_into if incident.merged_into_id else incident
    if carrier.state in version_final_states(carrier.workflow_version_id):
        return carrier.state_entered_at
    return None


def retention_due_at(incident: Incident, policy: Policy) -> datetime | None:
    closed = incident_closed_at(incident)
    if closed is None:
        return None
    period = policy.period(incident.source, incident.event_type_id)
    return closed + timedelta(days=period.confidential_days if incident.reporter_confidential else period.days)


def _held(ids: list[int]) -> set[int]:
    """Of ``ids``, the incidents holding personal data besides the reporter's name and phone."""
    return (
        set(Open311Request.objects.filter(incident_id__in=ids).exclude(attributes={}, media_url="")
            .values_list("incident_id", flat=True))
        | set(Feedback.objects.filter(incident_id__in=ids).exclude(text="").values_list("incident_id", flat=True))
        | set(Attachment.objects.filter(incident_id__in=ids, kind=Attachment.Kind.EVIDENCE, erased_at__isnull=True)
              .values_list("incident_id", flat=True))
    )


def _erase_one(pk: int, policy: Policy, now: datetime, run: RetentionRun) -> None:
    with transaction.atomic():
        incident = (Incident.objects.select_for_update(no_key=True, of=("self",)).select_related("merged_into")
                    .filter(pk=pk, pii_erased_at__isnull=True).first())
        if incident is None:  # erased meanwhile (a request, another run)
            return
        due = retention_due_at(incident, policy)
        if due is None or due > now:  # reopened meanwhile
            run.not_due += 1
            return
        period = policy.period(incident.source, incident.event_type_id)
        erased = incident_pii_erase(incident=incident, erasure=Erasure.RETENTION, now=now,
                                    rule=period.as_data(incident.reporter_confidential))
    run.erased += 1
    run.photos += erased["photos"]
    run.feedback_texts += erased["feedback"]


def retention_run(*, now: datetime | None = None, batch: int | None = None) -> RetentionRun:
    """Erase the personal data whose period is over (beat, nightly; ``manage.py retention_run``)."""
    started = time.monotonic()
    now = now or timezone.now()
    batch = batch or settings.PII_RETENTION_BATCH
    policy = Policy()
    run = RetentionRun()
    candidates = (
        Incident.objects.filter(pii_erased_at__isnull=True, created_at__lt=now - timedelta(days=policy.shortest_days()))
        .select_related("merged_into").order_by("pk")
    )
    last = 0
    while True:
        rows = list(candidates.filter(pk__gt=last)[:batch])
        if not rows:
            break
        last = rows[-1].pk
        run.scanned += len(rows)
        due = [i for i in rows if (at := retention_due_at(i, policy)) is not None and at <= now]
        run.not_due += len(rows) - len(due)
        held = _held([i.pk for i in due if not i.pii_key])
        empty = [i.pk for i in due if not i.pii_key and i.pk not in held]
        if empty:  # nothing to erase: one statement marks them all, no timeline row
            run.marked += Incident.objects.filter(pk__in=empty, pii_erased_at__isnull=True).update(
                pii_erased_at=now, pii_erasure=Erasure.RETENTION, intake_hash="",
            )
        for incident in due:
            if incident.pk in empty:
                continue
            try:
                _erase_one(incident.pk, policy, now, run)
            except Exception:  # noqa: BLE001 - one incident's failure must not stop the rest; logged, retried tomorrow
                logging.getLogger(__name__).exception("retention: erasing incident %s failed", incident.pk)
                run.failed.append(incident.pk)
    run.seconds = round(time.monotonic() - started, 3)
    if run.erased or run.marked or run.failed:
        audit_log.info("pii.retention_run", extra={"event": "pii.retention_run", "figures": run.as_dict()})
    return run
