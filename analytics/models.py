"""Facts: one row per incident and one per work order, derived from the timeline and kept current with it.

Written only by ``analytics.services.facts`` (in the transaction of each recorded change, and by
``recompute_analytics``); every value is what ``analytics.services.fold`` derives from the incident's timeline rows
(plus, for an order, the routing attributes its row carries: dispatch round, acknowledgement timeout, due time), so
the reports never scan the timeline and a recomputation gives the same rows. Intervals are stored in seconds next to
the times they come from; ``definitions`` says what each means. Codes (event type, district, department, unit
callsign) are stored as the timeline states them, blank when it names none.
"""

from django.db import models


class IncidentFact(models.Model):
    """An incident's figures: when each step happened, how it ended, what its orders went through (counts)."""

    incident = models.OneToOneField(
        "dispatch.Incident", primary_key=True, on_delete=models.CASCADE, related_name="fact"
    )
    event_type = models.CharField(max_length=64)
    district = models.CharField(max_length=64, blank=True)  # blank: none known
    severity = models.PositiveSmallIntegerField(default=3)
    source = models.CharField(max_length=16, blank=True)
    exercise = models.BooleanField(default=False)
    state = models.CharField(max_length=64, blank=True)
    merged_into = models.BigIntegerField(null=True, blank=True)  # the incident id it is merged into (not counted)
    created_at = models.DateTimeField()
    received_at = models.DateTimeField()
    first_offer_at = models.DateTimeField(null=True, blank=True)
    first_accepted_at = models.DateTimeField(null=True, blank=True)
    first_on_scene_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)  # last entry into a state that stands orders down
    closed_at = models.DateTimeField(null=True, blank=True)  # a final state reached
    final_state = models.CharField(max_length=64, blank=True)
    cancelled = models.BooleanField(default=False)  # the final state was reached by a destructive transition
    rework_count = models.PositiveIntegerField(default=0)
    sla_breaches = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    departments = models.JSONField(default=list, blank=True)  # codes of the departments it had orders for
    returns = models.PositiveIntegerField(default=0)
    returns_upheld = models.PositiveIntegerField(default=0)
    extensions = models.PositiveIntegerField(default=0)  # approved
    escalations = models.PositiveIntegerField(default=0)  # orders whose escalation started
    handling_breaches = models.PositiveIntegerField(default=0)  # orders whose handling clock ran out
    # Citizens' feedback (回访) on the work: on the report's own row and, for a merged report, on its survivor's.
    feedbacks = models.PositiveIntegerField(default=0, db_default=0)
    satisfied = models.PositiveIntegerField(default=0, db_default=0)  # of those, "satisfied"
    # Intervals (seconds) and outcomes (see analytics.services.definitions).
    received_to_created = models.FloatField(null=True, blank=True)
    created_to_first_offer = models.FloatField(null=True, blank=True)
    resolved_to_closed = models.FloatField(null=True, blank=True)
    created_to_closed = models.FloatField(null=True, blank=True)
    closed_on_time = models.BooleanField(null=True, blank=True)
    # Changed since its day's columns were built (analytics.services.columns): set by every write of the row, cleared
    # by the rebuild of its day. Not a fact (no fold derives it; a recomputation sets it).
    dirty = models.BooleanField(default=True, db_default=True)

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], name="incidentfact_dirty", condition=models.Q(dirty=True)),
            models.Index(fields=["created_at"], name="incidentfact_created"),
            models.Index(fields=["event_type", "created_at"], name="incidentfact_type_created"),
            models.Index(fields=["district", "created_at"], name="incidentfact_district_created"),
        ]

    def __str__(self):
        return f"facts of incident {self.incident_id}"


class OrderFact(models.Model):
    """A work order's figures: its department's clocks (offer, acceptance, departure, arrival, completion), its
    targets and what happened to it (attempts, returns, extensions, escalation, breach)."""

    work_order = models.OneToOneField(
        "departments.WorkOrder", primary_key=True, on_delete=models.CASCADE, related_name="fact"
    )
    incident = models.ForeignKey(IncidentFact, on_delete=models.CASCADE, related_name="order_facts")
    # The incident's creation time, copied (it never changes): a report's period is on it, and a range on the orders'
    # own index reads a month's orders instead of joining every order to its incident (measured: README, Analytics).
    incident_created_at = models.DateTimeField()
    # The incident's attributes a report filters on, copied too (kept equal by ``fold``: a relocation, merge or
    # unmerge rewrites its orders' copies), so that a report of the orders never joins them to their incidents.
    event_type = models.CharField(max_length=64, default="")
    district = models.CharField(max_length=64, blank=True, default="")
    exercise = models.BooleanField(default=False)
    merged = models.BooleanField(default=False)  # the incident is merged into another (not counted)
    department = models.CharField(max_length=64)
    unit = models.CharField(max_length=32, blank=True)  # the last unit that held it (blank: none yet)
    dispatch_round = models.PositiveIntegerField(default=1)
    # Made by the command center upholding a return (its first offer was a person's), not by the routing rules.
    replacement = models.BooleanField(default=False)
    first_of_department = models.BooleanField(default=True)  # the incident's first order of its department
    state = models.CharField(max_length=16, blank=True)
    first_offered_at = models.DateTimeField()
    offered_at = models.DateTimeField()  # the acknowledgement clock's start (restarted when a return is rejected)
    accepted_at = models.DateTimeField(null=True, blank=True)
    en_route_at = models.DateTimeField(null=True, blank=True)
    on_scene_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    ack_timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1)
    returned = models.PositiveIntegerField(default=0)
    return_upheld = models.BooleanField(default=False)
    extensions_requested = models.PositiveIntegerField(default=0)
    extensions_approved = models.PositiveIntegerField(default=0)
    escalated = models.BooleanField(default=False)
    handling_breached = models.BooleanField(default=False)
    handling_late_seconds = models.FloatField(null=True, blank=True)
    # Intervals (seconds) and outcomes (see analytics.services.definitions).
    offer_to_accepted = models.FloatField(null=True, blank=True)
    accepted_to_en_route = models.FloatField(null=True, blank=True)
    en_route_to_on_scene = models.FloatField(null=True, blank=True)
    on_scene_to_completed = models.FloatField(null=True, blank=True)
    accepted_to_completed = models.FloatField(null=True, blank=True)
    ack_on_time = models.BooleanField(null=True, blank=True)
    handling_on_time = models.BooleanField(null=True, blank=True)
    dirty = models.BooleanField(default=True, db_default=True)  # as IncidentFact.dirty

    class Meta:
        indexes = [
            models.Index(fields=["incident_created_at"], name="orderfact_dirty", condition=models.Q(dirty=True)),
            models.Index(fields=["department", "incident"], name="orderfact_department"),
            models.Index(fields=["unit"], name="orderfact_unit"),
            models.Index(fields=["incident_created_at"], name="orderfact_incident_created"),
        ]

    def __str__(self):
        return f"facts of work order {self.work_order_id}"


class FactDay(models.Model):
    """The columns of one local day's facts are built (``analytics.services.columns``): ``vocabulary`` is the codes
    their text columns index. The day is fresh while none of its facts is ``dirty``; ``built_at`` is null while it is
    being built again (its stored columns are older than its facts then), and a reader takes only columns of the
    ``version`` it reads."""

    day = models.DateField(primary_key=True)
    vocabulary = models.JSONField(default=list)
    incidents = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    built_at = models.DateTimeField(null=True)
    version = models.PositiveBigIntegerField(default=0)  # one more at each store: the columns read are of one store

    def __str__(self):
        return f"columns of {self.day}"


class FactColumn(models.Model):
    """One column of one day's facts: its values as a packed array (``analytics.services.columns.COLUMNS`` says
    which, of which type)."""

    day = models.ForeignKey(FactDay, on_delete=models.CASCADE, related_name="columns")
    name = models.CharField(max_length=48)
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "name"], name="factcolumn_day_name")]

    def __str__(self):
        return f"{self.name} of {self.day_id}"


_NOT_FACTS = {"dirty"}
INCIDENT_FIELDS = tuple(f.attname for f in IncidentFact._meta.concrete_fields if f.name not in _NOT_FACTS)
ORDER_FIELDS = tuple(f.attname for f in OrderFact._meta.concrete_fields if f.name not in _NOT_FACTS)
