"""The lock checked on every sign-in (django-axes), in front of Django's own backend (``AUTHENTICATION_BACKENDS``)."""

from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' check, except for a sign-in made in the process without a request (Django's test client,
    ``manage.py shell``): that is nobody guessing over the network, and axes would refuse it outright."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
