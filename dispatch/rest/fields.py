"""Request fields that take text only. DRF's ``CharField`` turns a number into text (``"reason": 5`` becomes
``"5"``), which hides a client's mistake and breaks the schema's promise of a string: these refuse it (400)."""

from typing import Any

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

# Text that must say something: DRF trims surrounding whitespace and refuses what is left empty; the pattern
# puts that rule in the schema too (at least one character that is not whitespace).
NOT_BLANK = RegexValidator(r"\S", _("This field may not be blank."))


class _TextOnly:
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")  # type: ignore[attr-defined]  # a DRF Field method, mixed in below
        return super().to_internal_value(data)  # type: ignore[misc]


class TextField(_TextOnly, serializers.CharField):
    pass


class SlugTextField(_TextOnly, serializers.SlugField):
    pass


class RegexTextField(_TextOnly, serializers.RegexField):
    pass
