"""Warnings received as CAP 1.2 (``POST /api/cap/inbound/``): what each one does to the response plans.

Every valid document is kept (``CapMessage``), whatever came of it; ``sender`` + ``identifier`` is unique, so the
same warning posted again (a retry, twenty copies at once) changes nothing and is answered from what was stored.

- ``Alert`` whose ``<event>`` a plan's trigger names, with a mapped ``<severity>``: the plan is activated at that
  level over the districts its area touches; a plan already active gets the area added and the level raised (never
  lowered: another warning may still hold it up).
- ``Update`` referencing a warning that activated a plan: the level and the area become the update's (up or down).
- ``Cancel``, or an update whose ``responseType`` is ``AllClear``: the activation ends. ``expires`` passing with no
  update since ends it too (a deadline, ``plans.services.activations``).
- Anything else is stored with why it did nothing: no plan matched, the area is outside the city, not ``Actual``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dispatch.core.changes import json_ready
from dispatch.core.i18n import localized
from plans.definition import LEVELS
from plans.models import Activation, CapMessage, ResponsePlan
from plans.services.activations import (
    LEVEL_RANK,
    activation_apply,
    activation_end_by_warning,
    activation_get,
    activation_payload,
)
from plans.services.cap import CapAlert, cap_area_districts, cap_parse

if TYPE_CHECKING:
    from departments.models import District
    from dispatch.models import User

CHANGING = {CapMessage.Outcome.STARTED, CapMessage.Outcome.CHANGED, CapMessage.Outcome.ENDED}


@dataclass
class Received:
    message: CapMessage
    repeated: bool  # the same sender + identifier had been received before

    @property
    def changed(self) -> bool:
        """Whether this post started, changed or ended an activation (201); otherwise 200."""
        return not self.repeated and self.message.outcome in CHANGING


def _language_key(language: str) -> str | None:
    """CAP ``<language>`` (RFC 3066: zh-CN, en-US ...) -> our text key, or None for another language."""
    tag = (language or "en-US").lower()
    return "zh" if tag.startswith("zh") else "en" if tag.startswith("en") else None


def cap_message_view(message: CapMessage, *, full: bool = True) -> dict[str, Any]:
    """A received warning as the API shows it (the document itself is not repeated); the headline in the reader's
    language when the warning has it. ``full``: the activation it acted on as a whole, else its id, plan and level."""
    activation: Any = None
    if message.activation_id is not None:
        if full:
            activation = activation_payload(activation_get(message.activation_id))
        elif message.activation is not None:
            activation = {"id": message.activation_id, "plan": message.activation.plan.code,
                          "level": message.activation.level, "active": message.activation.active}
    return json_ready({
        "id": message.pk, "sender": message.sender, "identifier": message.identifier, "sent": message.sent,
        "msg_type": message.msg_type, "status": message.status, "event": message.event,
        "severity": message.severity, "headline": localized(message.headlines) or message.headline,
        "headline_i18n": message.headlines, "expires": message.expires,
        "districts": message.districts, "outcome": message.outcome, "outcome_display": message.get_outcome_display(),
        "detail": message.detail, "received_at": message.received_at, "activation": activation,
    })


def _match(alert: CapAlert) -> tuple[ResponsePlan, str, str, str] | None:
    """The plan the alert triggers, at the highest level any of its infos maps to: (plan, level, event, severity)."""
    best: tuple[ResponsePlan, str, str, str] | None = None
    plans = ResponsePlan.objects.filter(is_active=True, active_version__isnull=False).select_related("active_version")
    for plan in plans:
        assert plan.active_version is not None
        for trigger in plan.active_version.spec["triggers"]:
            events = {e.casefold() for e in trigger["events"]}
            for info in alert.infos:
                level = trigger["severities"].get(info.severity)
                if info.event.casefold() in events and level in LEVELS and (
                    best is None or LEVEL_RANK[level] > LEVEL_RANK[best[1]]
                ):
                    best = (plan, level, info.event, info.severity)
    return best


def _referenced_activation(alert: CapAlert) -> Activation | None:
    """The activation a warning this one references started or changed (the latest such)."""
    for sender, identifier, _sent in reversed(alert.references):
        message = (CapMessage.objects.filter(sender=sender, identifier=identifier, activation__isnull=False)
                   .select_related("activation").first())
        if message is not None and message.activation is not None:
            return message.activation
    return None


def cap_receive(*, actor: User, document: bytes) -> Received:
    """Validate and act on a CAP 1.2 document (``Invalid`` naming the problem when it is not valid CAP 1.2)."""
    alert = cap_parse(document)
    first = alert.infos[0] if alert.infos else None
    areas = [area for info in alert.infos for area in info.areas]
    with transaction.atomic():
        message = CapMessage(
            sender=alert.sender, identifier=alert.identifier, sent=alert.sent, msg_type=alert.msg_type,
            status=alert.status, event=first.event if first else "", severity=first.severity if first else "",
            headline=(first.headline if first else "")[:300], expires=alert.expires,
            headlines={key: info.headline[:300] for info in reversed(alert.infos)
                       if (key := _language_key(info.language)) and info.headline},
            references=" ".join(",".join(ref) for ref in alert.references),
            document=document.decode("utf-8", errors="replace"), outcome=CapMessage.Outcome.UNMATCHED,
            received_by=actor if actor.pk else None,
        )
        try:
            with transaction.atomic():
                message.save(force_insert=True)
        except IntegrityError:
            stored = CapMessage.objects.get(sender=alert.sender, identifier=alert.identifier)
            return Received(stored, repeated=True)
        districts = cap_area_districts(areas)
        message.districts = [d.code for d in districts]
        message.outcome, message.detail, message.activation = _act(alert, actor=actor, districts=districts)
        message.save(update_fields=["districts", "outcome", "detail", "activation"])
    return Received(message, repeated=False)


def _act(alert: CapAlert, *, actor: User, districts: list[District]) -> tuple[str, str, Activation | None]:
    """What the warning does: (outcome, detail, activation). Runs in the receiving transaction."""
    outcome = CapMessage.Outcome
    if alert.status != "Actual" or alert.msg_type not in ("Alert", "Update", "Cancel"):
        return outcome.IGNORED, _("status %(status)s, msgType %(type)s: not acted on") % {
            "status": alert.status, "type": alert.msg_type}, None
    referenced = _referenced_activation(alert) if alert.msg_type in ("Update", "Cancel") else None
    cap = (alert.sender, alert.identifier)
    reason = _("CAP %(type)s %(identifier)s from %(sender)s") % {
        "type": alert.msg_type, "identifier": alert.identifier, "sender": alert.sender}
    if alert.msg_type == "Cancel" or alert.all_clear:
        if referenced is None:
            return outcome.UNMATCHED, _("it cancels no warning that activated a plan"), None
        activation = Activation.objects.select_for_update(no_key=True).get(pk=referenced.pk)
        if not activation.active:
            return outcome.UNCHANGED, _("the activation it ends had already ended"), activation
        activation_end_by_warning(activation=activation, actor=actor, reason=reason)
        return outcome.ENDED, "", activation
    if alert.expires is not None and alert.expires <= timezone.now():
        return outcome.IGNORED, _("it had already expired when it arrived"), referenced
    matched = _match(alert)
    if matched is None:
        return outcome.UNMATCHED, _("no response plan is triggered by event %(event)s with severity %(severity)s") % {
            "event": alert.infos[0].event if alert.infos else "-",
            "severity": alert.infos[0].severity if alert.infos else "-"}, None
    plan, level, _event, _severity = matched
    if not districts:
        return outcome.OUTSIDE, _("its area touches no district of the city"), None
    updating = referenced is not None and referenced.plan_id == plan.pk and referenced.active
    activation, what = activation_apply(
        plan_id=plan.pk, level=level, districts=districts, source=Activation.Source.CAP, actor=actor, reason=reason,
        replace_area=updating, raise_only=not updating, ends_at=alert.expires, cap=cap,
    )
    result = {"started": outcome.STARTED, "changed": outcome.CHANGED, "unchanged": outcome.UNCHANGED}[what]
    return result, "", activation


def cap_messages_recent(limit: int = 100) -> list[CapMessage]:
    return list(CapMessage.objects.select_related("activation__plan").order_by("-received_at", "-id")[:limit])
