from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    DISPATCHER = "dispatcher", _("Dispatcher")
    STAFF = "staff", _("Department staff")
    LEAD = "lead", _("Department lead")
    SUPERVISOR = "supervisor", _("Supervisor")
    ADMIN = "admin", _("Administrator")


DEPARTMENT_ROLES = {Role.STAFF, Role.LEAD}


class User(AbstractUser):
    """A person using Liandong. Staff and leads belong to exactly one department (and maybe a unit)."""

    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.STAFF)
    department = models.ForeignKey(
        "departments.Department", verbose_name=_("department"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="members",
    )
    unit = models.ForeignKey(
        "departments.Unit", verbose_name=_("unit"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="members",
    )

    def clean(self):
        super().clean()
        if self.role in DEPARTMENT_ROLES and not self.department_id:
            raise ValidationError({"department": _("Staff and leads must belong to a department.")})
        if self.unit_id and self.unit.department_id != self.department_id:
            raise ValidationError({"unit": _("The unit must belong to the user's department.")})

    @property
    def actor_label(self) -> str:
        return self.username


class SavedView(models.Model):
    """A named view of a page a user keeps (the console board's filters, search and sort, as a query string),
    on the server so it follows the user from the desk to any other workstation."""

    class Page(models.TextChoices):
        CONSOLE = "console", _("Command console")

    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="saved_views")
    page = models.CharField(_("page"), max_length=16, choices=Page.choices)
    name = models.CharField(_("name"), max_length=80)
    query = models.CharField(_("query"), max_length=1000, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        constraints = [models.UniqueConstraint(fields=["user", "page", "name"], name="saved_view_unique_name")]
        ordering = ["page", "name"]

    def __str__(self) -> str:
        return f"{self.user} · {self.page} · {self.name}"
