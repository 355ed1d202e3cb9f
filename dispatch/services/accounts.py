"""Creating users with a role (used by ``add_user`` and ``seed_demo``)."""

from django.core.exceptions import ValidationError
from django.db import transaction

from departments.models import Department, Unit
from dispatch.models import Role, User


@transaction.atomic
def user_upsert(*, username: str, role: str, password: str, department_code: str | None = None,
                unit_callsign: str | None = None) -> tuple[User, bool]:
    """Create the user, or leave an existing one as it is. Returns ``(user, created)``."""

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
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user, True
