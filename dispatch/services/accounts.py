"""Users: creating them with a role (used by ``add_user`` and ``seed_demo``), and the views of pages they keep."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import QueryDict
from django.utils.translation import gettext as _

from departments.models import Department, Unit
from dispatch.core.errors import Invalid, NotFound
from dispatch.models import Role, SavedView, User


@transaction.atomic
def user_upsert(*, username: str, role: str, password: str, department_code: str | None = None,
                unit_callsign: str | None = None, encoded_password: str | None = None) -> tuple[User, bool]:
    """Create the user, or leave an existing one as it is. Returns ``(user, created)``. ``encoded_password``:
    ``password`` already hashed (``make_password``), for users made in bulk with one password (``seed_demo``:
    hashing costs about half a second of CPU per user). ``password`` must pass ``AUTH_PASSWORD_VALIDATORS`` (400-style
    ``ValidationError`` naming ``password`` otherwise)."""

    if role not in Role.values:
        raise ValidationError({"role": f"unknown role {role!r} (one of {', '.join(Role.values)})"})
    existing = User.objects.filter(username=username).first()
    if existing is not None:
        return existing, False
    department = None
    if department_code:
        department = Department.objects.filter(code=department_code).first()
        if department is None:
            raise ValidationError({"department": f"unknown department {department_code!r}"})
    unit = None
    if unit_callsign:
        unit = Unit.objects.filter(callsign=unit_callsign).first()
        if unit is None:
            raise ValidationError({"unit": f"unknown unit {unit_callsign!r}"})
    user = User(username=username, role=role, department=department, unit=unit,
                is_staff=role == Role.ADMIN, is_superuser=role == Role.ADMIN)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    if encoded_password is None:
        user.set_password(password)
    else:
        user.password = encoded_password
    user.full_clean(exclude=["password"])
    user.save()
    return user, True


# What a saved view may hold, per page: the parameters the page reads from its address.
SAVED_VIEW_KEYS = {
    SavedView.Page.CONSOLE: {"event_type", "state", "district", "department", "hide_final", "quick", "q", "sort"},
}
SAVED_VIEWS_PER_PAGE = 50


def saved_view_save(*, user: User, page: str, name: str, query: str) -> tuple[SavedView, bool]:
    """Keep ``query`` as the user's view ``name`` of ``page`` (replacing a view of that name). Returns
    ``(view, created)``. Refuses parameters the page does not read, naming ``query``."""
    name = name.strip()
    if page not in SAVED_VIEW_KEYS:
        raise Invalid(_("Invalid input."), {"page": [_("Unknown page %(page)r.") % {"page": page}]})
    if not name:
        raise Invalid(_("Invalid input."), {"name": [_("Give the view a name.")]})
    params = QueryDict(query.lstrip("?"))
    unknown = sorted(set(params) - SAVED_VIEW_KEYS[page])
    if unknown:
        raise Invalid(_("Invalid input."), {"query": [_("This page does not read %(keys)s.") % {"keys": ", ".join(unknown)}]})
    with transaction.atomic():
        existing = SavedView.objects.select_for_update(no_key=True).filter(user=user, page=page, name=name).first()
        if existing is None and SavedView.objects.filter(user=user, page=page).count() >= SAVED_VIEWS_PER_PAGE:
            raise Invalid(_("Invalid input."), {"name": [_("You have %(n)s saved views of this page; delete one first.")
                                                         % {"n": SAVED_VIEWS_PER_PAGE}]})
        view, created = SavedView.objects.update_or_create(
            user=user, page=page, name=name, defaults={"query": params.urlencode()})
    return view, created


def saved_view_delete(*, user: User, pk: int) -> None:
    """Delete one of the user's own views (anyone else's is not found)."""
    deleted, _rows = SavedView.objects.filter(user=user, pk=pk).delete()
    if not deleted:
        raise NotFound(_("No such saved view."))
