"""Filter fields that refuse what the database cannot take (out-of-range ids and dates: 400, never 500)."""

from datetime import UTC

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

MAX_ID = 2**63 - 1


@extend_schema_field(OpenApiTypes.INT)
class IntegerFilter(django_filters.NumberFilter):
    """A whole number (django-filter's NumberFilter takes decimals)."""

    field_class = forms.IntegerField


class IdFilter(IntegerFilter):
    """An integer id: one the database cannot hold matches nothing (instead of overflowing into a 500)."""

    def filter(self, qs, value):
        if value is not None and not 0 <= value <= MAX_ID:
            return qs.none()
        return super().filter(qs, value)


class _SafeIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        value = super().to_python(value)
        if value is not None:
            try:
                value.astimezone(UTC)
                if not 1 < value.year < 9999:
                    raise OverflowError
            except OverflowError:
                raise ValidationError("Date out of range.", code="invalid") from None
        return value


class SafeIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = _SafeIsoDateTimeField


class StrictFilterSet(django_filters.FilterSet):
    """A filter given with an empty value (``?state=``) is a 400 naming it, not silently "no filter": a client
    that sends one has a bug worth seeing (the console and audit pages leave empty filters out)."""

    def is_valid(self):
        valid = super().is_valid()
        for name in self.filters:
            if name in self.data and not str(self.data.get(name, "")).strip():
                self.form.add_error(name, _("May not be blank; leave the parameter out instead."))
                valid = False
        return valid


BOOLEAN_CHOICES = [("true", "true"), ("false", "false")]
