import pytest
from django.conf import settings as django_settings

AS_CONFIGURED = django_settings.REST_KNOX  # dispatch/settings.py's, before any test changes it


@pytest.fixture(autouse=True)
def _tokens_as_configured(settings, _tokens_outlive_time_travel):
    """The token lifetimes of dispatch/settings.py (12 h after the last use, 7 days at most), not the century that
    tests/conftest.py gives every other test."""
    settings.REST_KNOX = AS_CONFIGURED
