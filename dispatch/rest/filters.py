"""Filter fields that refuse what the database cannot take (out-of-range ids and dates: 400, never 500)."""

from datetime import UTC, datetime

import django_filters
from django import forms
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


# The dates a filter compares with: any date the schema allows (years 1 to 9999, any offset) is valid, and one
# beyond these bounds means "before / after everything", so later arithmetic and database drivers never overflow.
_LOWEST = datetime(2, 1, 1, tzinfo=UTC)
_HIGHEST = datetime(9998, 12, 31, tzinfo=UTC)


class _SafeIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return value
        try:
            utc = value.astimezone(UTC)
        except OverflowError:  # 0001-01-01 with a positive offset, 9999-12-31 with a negative one
            return _LOWEST if value.year < 5000 else _HIGHEST
        return min(max(utc, _LOWEST), _HIGHEST)


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


@extend_schema_field({"type": "string", "enum": ["true", "false"]})
class TrueFalseFilter(django_filters.ChoiceFilter):
    """``true`` or ``false``, nothing else (400 otherwise), documented as such even where the model has a boolean field
    of the same name (the schema would otherwise declare a boolean with string values)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", BOOLEAN_CHOICES)
        super().__init__(*args, **kwargs)
