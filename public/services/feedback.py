"""Citizens' feedback (回访) on a closed report, from its tracking token.

One per report (the unique row decides a race: the loser gets a conflict). Allowed once the incident carrying
the work (the survivor, for a merged report) is closed, not cancelled. The free text stays on the ``Feedback`` row
(it may hold personal data); the timeline row ``feedback.received`` records the verdict and the reason codes.
"Not satisfied" with ``not_fixed`` raises a reopen request (``public.services.reopen``) on the incident that
carries the work.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from dispatch.core.changes import record_change
from dispatch.core.errors import Conflict, Invalid, NotFound
from dispatch.models import Incident
from public.models import Feedback
from public.services.reopen import reopen_request_open
from public.tokens import tracking_hash

REASONS = tuple(Feedback.Reason.values)
MAX_TEXT = 2000


def feedback_submit(*, token: str, satisfied: object, reasons: object, text: object) -> Feedback:
    """Record the feedback for the report with ``token``. 404 unknown token, 409 not closed yet or given
    already, 400 bad input (naming the field)."""
    incident = (
        Incident.objects.filter(tracking_token_hash=tracking_hash(str(token or ""))).only("pk").first()
        if token
        else None
    )
    if incident is None:
        raise NotFound(_("Unknown tracking token."), {"token": [_("Unknown tracking token.")]})
    if not isinstance(satisfied, bool):
        raise Invalid(_("Say whether you are satisfied."), {"satisfied": [_("true or false.")]})
    if reasons is None:
        reasons = []
    if not isinstance(reasons, list) or any(r not in REASONS for r in reasons):
        raise Invalid(_("Unknown reason."), {"reasons": [_("A list of: %(codes)s.") % {"codes": ", ".join(REASONS)}]})
    if text is None:
        text = ""
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise Invalid(_("Text too long."), {"text": [_("At most %(n)d characters.") % {"n": MAX_TEXT}]})
    with transaction.atomic():
        incident = Incident.objects.select_for_update(no_key=True, of=("self",)).select_related("workflow_version").get(pk=incident.pk)
        carrier = incident
        if incident.merged_into_id is not None:
            carrier = (
                Incident.objects.select_for_update(no_key=True, of=("self",)).select_related("workflow_version").get(pk=incident.merged_into_id)
            )
        if not feedback_open(carrier):
            raise Conflict(_("This report is not closed yet."), {"token": [_("Not closed yet.")]})
        if Feedback.objects.filter(incident=incident, work_round=carrier.dispatch_round).exists():
            raise Conflict(_("Feedback was given already."), {"token": [_("Feedback was given already.")]})
        reasons = list(dict.fromkeys(reasons))  # each code once, in the order given
        try:
            with transaction.atomic():
                feedback = Feedback.objects.create(
                    incident=incident, work_round=carrier.dispatch_round, satisfied=satisfied, reasons=reasons, text=text
                )
        except IntegrityError as exc:  # a concurrent submission won
            raise Conflict(_("Feedback was given already."), {"token": [_("Feedback was given already.")]}) from exc
        record_change(incident=incident, kind="feedback.received", data={"satisfied": satisfied, "reasons": reasons})
        if carrier.pk != incident.pk:  # the survivor did the work: its figures count the verdict (analytics facts)
            record_change(
                incident=carrier,
                kind="feedback.received",
                data={"satisfied": satisfied, "reasons": reasons, "report": incident.number},
            )
        if not satisfied and Feedback.Reason.NOT_FIXED in reasons:
            reopen_request_open(incident=carrier, feedback=feedback)
    return feedback


def feedback_open(incident: Incident) -> bool:
    """Whether the incident's work is finished so a citizen may judge it: a final state, not cancelled."""
    state = incident.workflow_version.spec.states.get(incident.state)
    return bool(state is not None and state.final and incident.state != "cancelled")


def feedback_given(incident: Incident) -> bool:
    """Whether this report's feedback on the latest round of work was given (the page then says thank you)."""
    carrier_round = (
        Incident.objects.filter(pk=incident.merged_into_id).values_list("dispatch_round", flat=True).first()
        if incident.merged_into_id is not None
        else incident.dispatch_round
    )
    return Feedback.objects.filter(incident=incident, work_round=carrier_round).exists()
