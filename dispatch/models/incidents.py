from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from dispatch.core import crypto


class Source(models.TextChoices):
    CONSOLE = "console", _("Command console")
    API = "api", _("API")
    OPEN311 = "open311", _("Open311")
    SENSOR = "sensor", _("Sensor")
    HOTLINE = "hotline", _("Hotline")


class Erasure(models.TextChoices):
    """Why an incident's personal data was erased (``privacy.services.erasure``)."""

    RETENTION = "retention", _("retention period over")
    REQUEST = "request", _("the person concerned asked")


class Incident(ConcurrentTransitionMixin, models.Model):
    """An emergency event moving through the workflow version it was created with.

    The allowed transitions are data (the pinned ``workflow_version``); ``fire`` is the one django-fsm
    transition and is only called by ``dispatch.services.incidents.incident_transition``, which checks
    role, source state and guard first. ``ConcurrentTransitionMixin`` makes a stale writer fail.
    """

    number = models.CharField(_("number"), max_length=32, unique=True)
    event_type = models.ForeignKey("workflows.EventType", on_delete=models.PROTECT, related_name="incidents")
    workflow_version = models.ForeignKey("workflows.WorkflowVersion", on_delete=models.PROTECT, related_name="incidents")
    state = FSMField(_("state"), max_length=64, protected=True)
    severity = models.PositiveSmallIntegerField(_("severity"), default=3)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    district = models.ForeignKey(
        "departments.District", null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    # A dispatcher confirmed a location outside every district (``location_outside_city``): units are chosen
    # by distance. Without it an incident with no district waits for a location (``needs_location``).
    location_outside_city = models.BooleanField(_("location outside the city, confirmed"), default=False)
    # Personal data (PIPL): encrypted at rest under this incident's own data key (``pii_key``, wrapped by the master
    # keys: ``dispatch.core.crypto``), read and written through ``reporter_name`` / ``reporter_phone`` below; masked
    # in responses for every role but dispatchers, and for a confidential report (GB/T 33358) visible only to the
    # dispatcher who took it (supervisors may reveal it with a stated reason, which the timeline records). Erased by
    # the retention policy or on request (``privacy``): the key is destroyed, the values blanked, ``pii_erased_at``
    # set (also on incidents that had nothing to erase, once their retention period is over).
    reporter_name_sealed = models.TextField(blank=True, db_column="reporter_name")
    reporter_phone_sealed = models.TextField(blank=True, db_column="reporter_phone")
    pii_key = models.TextField(blank=True, default="")
    pii_erased_at = models.DateTimeField(null=True, blank=True)
    pii_erasure = models.CharField(max_length=16, choices=Erasure.choices, blank=True)
    reporter_confidential = models.BooleanField(_("reporter asked for confidentiality"), default=False)
    # Public tracking (``public.tokens``): the token is derived from the salt; only its sha256 is looked up.
    # Incidents reported before tokens existed have neither (no tracking page).
    tracking_salt = models.CharField(max_length=32, blank=True, default="")
    tracking_token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.CONSOLE)
    external_id = models.CharField(_("external id"), max_length=100, blank=True)
    intake_hash = models.CharField(max_length=64, blank=True)
    dispatch_round = models.PositiveIntegerField(default=0)
    state_entered_at = models.DateTimeField()
    # SLA of the current state (``dispatch.services.sla``): due time (None when the state has no SLA or
    # is paused), the clock of the last non-paused state ({"state", "used"} seconds), breach and urgency.
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_clock = models.JSONField(default=dict, blank=True)
    sla_breached_at = models.DateTimeField(null=True, blank=True)
    urgency = models.PositiveSmallIntegerField(_("urgency"), default=3)
    # The response plan activation in force where and when it was reported (``plans.services.activations``): its
    # overrides (shorter acknowledgement windows, higher priority, extra departments) applied to its routing.
    activation = models.ForeignKey(
        "plans.Activation", null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    # Duplicate reports (``dispatch.services.duplicates``): a merged report points at the incident that carries the
    # work (``merged_into``); its own orders were cancelled and it is not on the board, but its reporter, texts and
    # timeline stay its own. ``report_count``: the survivor's own report plus those merged into it.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_reports"
    )
    merged_at = models.DateTimeField(null=True, blank=True)
    merged_automatically = models.BooleanField(default=False)
    report_count = models.PositiveIntegerField(_("reports"), default=1)
    # A drill (演练): reported and handled like any incident, left out of the figures unless asked for.
    exercise = models.BooleanField(_("exercise"), default=False)
    major_event = models.ForeignKey(
        "dispatch.MajorEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    created_by = models.ForeignKey("dispatch.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], condition=~models.Q(external_id=""), name="incident_source_external_id"
            ),
            models.CheckConstraint(condition=models.Q(severity__gte=1, severity__lte=5), name="incident_severity_1_5"),
        ]
        indexes = [
            models.Index(fields=["state"]), models.Index(fields=["event_type", "state"]),
            # Duplicate candidates: same type, a latitude band, longitude checked in the index (time on the few left).
            models.Index(fields=["event_type", "lat", "lon"], name="incident_type_lat_lon"),
            # The retention run's candidates: personal data not yet erased, oldest first.
            models.Index(fields=["created_at"], condition=models.Q(pii_erased_at__isnull=True), name="incident_pii_kept"),
        ]

    def __str__(self):
        return f"{self.number} {self.title}"

    # --- personal data, through the incident's data key -----------------------------------------------------------

    def _data_key(self, create: bool = False):
        """This incident's data key (opened once per instance), a new one when ``create`` and it has none, else None."""
        cached = self.__dict__.get("_data_key_cache")
        if cached is not None and cached[0] == self.pii_key:
            return cached[1]
        if self.pii_key:
            key = crypto.data_key_open(self.pii_key)
        elif create:
            if self.pii_erased_at is not None:
                raise ValueError("this incident's personal data was erased; nothing new is kept")
            key, self.pii_key = crypto.data_key_new()
        else:
            return None
        self.__dict__["_data_key_cache"] = (self.pii_key, key)
        return key

    @property
    def reporter_name(self) -> str:
        return crypto.unseal(self._data_key(), self.reporter_name_sealed)

    @reporter_name.setter
    def reporter_name(self, value: str) -> None:
        self.reporter_name_sealed = crypto.seal(self._data_key(create=True), value) if value else ""

    @property
    def reporter_phone(self) -> str:
        return crypto.unseal(self._data_key(), self.reporter_phone_sealed)

    @reporter_phone.setter
    def reporter_phone(self, value: str) -> None:
        self.reporter_phone_sealed = crypto.seal(self._data_key(create=True), value) if value else ""

    @transition(field=state, source="*", target=RETURN_VALUE())
    def fire(self, target_state: str) -> str:
        """Move to ``target_state``; the caller has resolved it from the pinned definition."""
        return target_state

    @property
    def needs_location(self) -> bool:
        """No district, and no dispatcher confirmed a place outside the city: no unit is chosen until a
        dispatcher sets a location or a district (``dispatch.services.locations``)."""
        return self.district_id is None and not self.location_outside_city

    def event_payload(self) -> dict:
        """The incident as live events and webhooks show it (``dispatch.core.changes.Change.payload``)."""
        return {
            "id": self.pk, "number": self.number, "event_type": self.event_type.code,
            "state": self.state, "severity": self.severity, "urgency": self.urgency, "title": self.title,
            "district": self.district.code if self.district_id else None,
            "location": {"lat": self.lat, "lon": self.lon} if self.lat is not None else None,
            "needs_location": self.needs_location, "activation": self.activation_id,
            "merged_into": self.merged_into_id, "merged_automatically": self.merged_automatically,
            "report_count": self.report_count, "major_event": self.major_event_id, "exercise": self.exercise,
            "sla_due_at": self.sla_due_at, "sla_breached_at": self.sla_breached_at,
            "created_at": self.created_at, "updated_at": self.updated_at,
        }

    def department_codes(self) -> list[str]:
        """Codes of the departments with a work order on this incident (any state), sorted."""
        return sorted(set(self.work_orders.values_list("department__code", flat=True)))


class IncidentCounter(models.Model):
    """Per-day counter behind human-readable incident numbers (INC-YYYYMMDD-NNNNN)."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.day}: {self.last}"
