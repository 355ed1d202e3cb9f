"""The lock checked on every sign-in (django-axes), in front of Django's own backend (``AUTHENTICATION_BACKENDS``)."""

import ipaddress

from axes.backends import AxesStandaloneBackend

from dispatch.runtime.throttling import client_address


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' check, except for a sign-in made in the process without a request (Django's test client,
    ``manage.py shell``): that is nobody guessing over the network, and axes would refuse it outright."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_address(request) -> str | None:
    """The address django-axes counts failures by (``AXES_CLIENT_IP_CALLABLE``): the rate limits' (``client_address``,
    ``TRUSTED_PROXY_COUNT``), or None for a request that came from no network (``force_login``, a shell), which has no
    address to count (PostgreSQL's inet column refuses anything but an address)."""
    address = client_address(request)
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return None
    return address
