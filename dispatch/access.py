"""Who may see and do what: the one home of role and department rules.

Views, serializers, services and (later) consumers all ask here. Staff and leads see only their own
department's work orders and the incidents behind them; for anything else they get 404, not 403.
"""

from django.db.models import Exists, OuterRef, Q, QuerySet

from departments.models import Unit, WorkOrder
from dispatch.models import ApiClient, Incident, Role, TimelineEvent

COMMAND_ROLES = {Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN}
REPORTER_ROLES = {Role.DISPATCHER, Role.ADMIN}
CONTACT_ROLES = {Role.DISPATCHER}


def is_command(user) -> bool:
    return user.is_authenticated and user.role in COMMAND_ROLES


def is_department_member(user) -> bool:
    return user.is_authenticated and user.role in (Role.STAFF, Role.LEAD) and user.department_id is not None


def incidents_visible_to(user) -> QuerySet:
    qs = Incident.objects.all()
    if is_command(user):
        return qs
    if is_department_member(user):
        return qs.filter(
            Exists(WorkOrder.objects.filter(incident=OuterRef("pk"), department_id=user.department_id))
        )
    return qs.none()


def work_orders_visible_to(user) -> QuerySet:
    qs = WorkOrder.objects.all()
    if is_command(user):
        return qs
    if is_department_member(user):
        return qs.filter(department_id=user.department_id)
    return qs.none()


def timeline_visible_to(user, incident) -> QuerySet:
    """An incident's timeline as ``user`` may read it: department members see the incident's own rows and
    their department's work-order rows, never other departments' (ids, units, reasons)."""

    rows = TimelineEvent.objects.filter(incident=incident)
    if is_command(user):
        return rows
    if is_department_member(user):
        return rows.filter(Q(work_order__isnull=True) | Q(work_order__department_id=user.department_id))
    return rows.none()


def api_client_of(user):
    """The ``ApiClient`` whose service account ``user`` is, or None (people)."""

    if not user.is_authenticated:
        return None
    try:
        return user.api_client
    except ApiClient.DoesNotExist:
        return None


def is_department_system(user) -> bool:
    """A department's own system (an active ``department`` API client): its department's staff, and it
    may report incidents."""
    client = api_client_of(user)
    return client is not None and client.in_force and client.kind == "department" and is_department_member(user)


def may_post_cap(user) -> bool:
    """A weather service's key (an active ``cap_source`` API client) or an administrator posts CAP warnings."""
    client = api_client_of(user)
    if client is not None:
        return client.in_force and client.kind == "cap_source"
    return user.is_authenticated and user.role == Role.ADMIN


def timeline_rows_visible_to(user) -> QuerySet:
    """Every timeline row ``user`` may read, across incidents (exports): the rules of ``timeline_visible_to``."""

    rows = TimelineEvent.objects.filter(incident__in=incidents_visible_to(user))
    if is_command(user):
        return TimelineEvent.objects.all()
    if is_department_member(user):
        return rows.filter(Q(work_order__isnull=True) | Q(work_order__department_id=user.department_id))
    return rows.none()


def can_report_incident(user) -> bool:
    """Dispatchers, admins, and department systems (contract: "dispatcher, admin, or a department system's
    token"). Open311 clients report through ``dispatch.interop.open311.services`` only."""
    if not user.is_authenticated:
        return False
    return user.role in REPORTER_ROLES or (user.role == Role.STAFF and is_department_system(user))


def can_see_reporter(user, incident) -> bool:
    """Reporter contact data in clear: dispatchers; for a confidential report only the dispatcher who
    took it. Everyone else sees it masked (supervisors may reveal it with a reason: ``may_reveal_reporter``)."""
    if not (user.is_authenticated and user.role in CONTACT_ROLES):
        return False
    return not incident.reporter_confidential or incident.created_by_id == user.pk


def may_locate_incident(user) -> bool:
    """Setting where an incident is (a report without a location, or outside the city): dispatchers, admins."""
    return user.is_authenticated and user.role in REPORTER_ROLES


def may_reveal_reporter(user) -> bool:
    return user.is_authenticated and user.role == Role.SUPERVISOR


def may_erase_reporter(user) -> bool:
    """Erasing a report's personal data on the request of the person concerned (PIPL art. 47): supervisors."""
    return user.is_authenticated and user.role == Role.SUPERVISOR


def may_export_audit(user) -> bool:
    """The audit records (sign-ins, tokens, locks, account changes, admin actions): supervisors, who audit, and
    administrators."""
    return user.is_authenticated and user.role in (Role.SUPERVISOR, Role.ADMIN)


def can_add_note(user, incident) -> bool:
    return is_command(user) or is_department_member(user)


def can_add_public_note(user, incident) -> bool:
    """A note the public reads (Open311 ``status_notes``) speaks for the command center: dispatchers,
    supervisors and admins."""
    return is_command(user)


def role_allows(user, roles: tuple[str, ...], *, incident_departments: set[int]) -> bool:
    """Whether ``user`` holds one of a workflow transition's ``roles``.

    ``staff`` / ``lead`` mean members of a department with work on the incident; ``lead@environment``
    means a lead of that department.
    """
    if not user.is_authenticated:
        return False
    for role in roles:
        base, _, dept = role.partition("@")
        if user.role != base:
            continue
        if base in (Role.STAFF, Role.LEAD):
            if dept:
                if user.department_id and user.department.code == dept:
                    return True
            elif user.department_id in incident_departments:
                return True
        else:
            return True
    return False


def may_act_on_work_order(user, work_order, action: str) -> bool:
    """Role check for a work-order action (visibility is checked first, by ``work_orders_visible_to``)."""
    if action in ("accept", "decline", "depart", "arrive", "complete"):
        if user.role in (Role.DISPATCHER, Role.ADMIN):
            return True
        return is_department_member(user) and user.department_id == work_order.department_id
    if action == "reassign":
        return user.role in (Role.DISPATCHER, Role.ADMIN) or (
            user.role == Role.LEAD and user.department_id == work_order.department_id
        )
    if action == "cancel":
        return user.role in (Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN)
    if action == "return":  # 退回: the department says it is not theirs; the command center decides
        return is_department_member(user) and user.department_id == work_order.department_id
    if action in ("pause", "resume"):  # the order's handling clock, with a reason: its department or a dispatcher
        return user.role == Role.DISPATCHER or (
            is_department_member(user) and user.department_id == work_order.department_id)
    if action == "request_extension":  # 延期: the department's lead asks
        return user.role == Role.LEAD and user.department_id == work_order.department_id
    return False


def may_mark_exercise(user) -> bool:
    """A drill is declared by the dispatcher who reports it."""
    return user is not None and user.is_authenticated and user.role == Role.DISPATCHER


def may_decide_return(user, work_order) -> bool:
    """A dispatcher or supervisor decides a return; an order returned a second time, a supervisor only."""
    if work_order.return_count >= 2:
        return user.role == Role.SUPERVISOR
    return user.role in (Role.DISPATCHER, Role.SUPERVISOR)


def may_see_reports(user) -> bool:
    """The reports page: the command roles (every department's figures) and department leads (their own)."""
    return is_command(user) or (is_department_member(user) and user.role == Role.LEAD)


def may_try_routing(user) -> bool:
    """Routing changes are tried on past incidents (the dry-run, the suggestions from returns) by admins only: they
    edit routing rules and publish definitions."""
    return getattr(user, "role", None) == Role.ADMIN


def may_decide_reopen(user) -> bool:
    """A citizen's reopen request (public/) is decided by a supervisor: it reverses a verified closing."""
    return user.is_authenticated and user.role == Role.SUPERVISOR


def may_list_reopen_requests(user) -> bool:
    return user.is_authenticated and user.role in (Role.DISPATCHER, Role.SUPERVISOR)


def may_decide_extension(user) -> bool:
    return user.role in (Role.DISPATCHER, Role.SUPERVISOR)


def units_visible_to(user) -> QuerySet:
    if is_command(user):
        return Unit.objects.all()
    if is_department_member(user):
        return Unit.objects.filter(department_id=user.department_id)
    return Unit.objects.none()


def may_set_unit_status(user, unit) -> bool:
    if user.role in (Role.DISPATCHER, Role.ADMIN):
        return True
    if not is_department_member(user) or user.department_id != unit.department_id:
        return False
    return user.role == Role.LEAD or user.unit_id in (None, unit.pk)


def may_report_unit_position(user, unit) -> bool:
    """A unit's position comes from its own crew's phones, or a lead of its department."""
    if not is_department_member(user) or user.department_id != unit.department_id:
        return False
    return user.role == Role.LEAD or user.unit_id == unit.pk


def may_attach(user, incident, work_order=None) -> bool:
    """Photos (issue 19): the command roles on any incident they see; department staff and leads on an incident
    their department has an order on (visibility checks that first) and on their own department's orders."""
    if is_command(user):
        return True
    if not is_department_member(user):
        return False
    if work_order is not None:
        return work_order.department_id == user.department_id
    return WorkOrder.objects.filter(incident=incident, department_id=user.department_id).exists()


def may_see_attachment(user, attachment) -> bool:
    """An attachment is seen by who sees its incident; one on a work order, by who sees that order (a department
    member: their own department's)."""
    if not user.is_authenticated or not incidents_visible_to(user).filter(pk=attachment.incident_id).exists():
        return False
    if attachment.work_order_id is None or is_command(user):
        return True
    return attachment.work_order.department_id == user.department_id
