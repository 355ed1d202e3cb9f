"""The second step of signing in on the pages, and a person's own account security (issue 21, item 2; the rules:
``identity.services.mfa``).

``/login/`` (``auth_views.LoginView``) leaves a pending sign-in instead of signing in when a second factor is needed;
``/login/code/`` takes the code, ``/login/enrol/`` sets up an authenticator first when the role requires one. Only
they call ``login()``: before that the session is anyone's. ``/account/security/`` shows whether two-step sign-in is
on, renews recovery codes and turns it on or (where the role allows) off. The admin's own login page sends people to
``/login/``, so that there is one way to sign in and it asks for the code."""

from urllib.parse import urlencode

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View

from dispatch.core.errors import ServiceError
from dispatch.runtime.throttling import client_address
from dispatch.web.auth_views import lockout_response
from identity.services import mfa


class _MethodsFirst:
    """A method the view does not answer is 405 before anything else (before the sign-in check's redirect)."""

    def _answers(self, request) -> bool:
        return request.method.lower() in self.http_method_names and hasattr(self, request.method.lower())

    def dispatch(self, request, *args, **kwargs):
        if not self._answers(request):
            return self.http_method_not_allowed(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)


def _refused(request, template: str, context: dict, error: ServiceError):
    """The page again with the error beside the code field: 400, or 429 with Retry-After while codes must wait."""
    response = render(request, template, {**context, "error": error.detail}, status=error.status_code)
    if getattr(error, "retry_after", 0):
        response["Retry-After"] = str(error.retry_after)
    return response


class _PendingStep(_MethodsFirst, View):
    """A step after the password: only with a pending sign-in (else back to /login/); signed-in people go home."""

    http_method_names = ["get", "post", "head", "options"]
    template = ""

    def dispatch(self, request, *args, **kwargs):
        if not self._answers(request):
            return self.http_method_not_allowed(request, *args, **kwargs)
        if request.user.is_authenticated:
            return redirect(settings.LOGIN_REDIRECT_URL)
        was_pending = mfa.PENDING in request.session
        self.user = mfa.pending_user(request.session)
        if self.user is None:
            if was_pending:
                messages.warning(request, _("Enter your username and password again: the sign-in took too long."))
            return redirect("login")
        return super().dispatch(request, *args, **kwargs)

    def _locked(self, request):
        """django-axes' lock, as the password step checks it (wrong codes count towards it too)."""
        if AxesProxyHandler.is_allowed(request, {"username": self.user.username}):
            return None
        mfa.pending_clear(request.session)
        return lockout_response(request)

    def _signed_in(self, request):
        """Sign in for real (a new session key, the session's clocks, the audit record), then where the person was
        going."""
        target = mfa.pending_next(request.session)
        mfa.pending_clear(request.session)
        login(request, self.user)
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
            target = ""
        return target or resolve_url(settings.LOGIN_REDIRECT_URL)


class LoginCodeView(_PendingStep):
    """``/login/code/``: the code from the authenticator app, or a recovery code."""

    template = "registration/login_code.html"

    def get(self, request):
        if mfa.second_factor_needed(self.user) == mfa.Need.ENROL:
            return redirect("login-enrol")
        return render(request, self.template, {"pending": self.user})

    def post(self, request):
        if mfa.second_factor_needed(self.user) == mfa.Need.ENROL:
            return redirect("login-enrol")
        locked = self._locked(request)
        if locked is not None:
            return locked
        try:
            via = mfa.code_check(user=self.user, code=request.POST.get("otp"), request=request,
                                 address=client_address(request))
        except ServiceError as error:
            return _refused(request, self.template, {"pending": self.user}, error)
        target = self._signed_in(request)
        if via == "recovery":  # to the account page first: it says how many are left and renews them
            left = mfa.status(request.user).recovery_codes_left
            messages.warning(request, _("You signed in with a recovery code; %(left)d left. Make new ones here if "
                                        "your phone is gone, or ask an administrator to remove its authenticator.")
                             % {"left": left})
            return HttpResponseRedirect(f"{reverse('account-security')}?{urlencode({'next': target})}")
        return HttpResponseRedirect(target)


class LoginEnrolView(_PendingStep):
    """``/login/enrol/``: the role requires a second factor and the person has none: set up an authenticator app
    (QR code, or the secret typed in), confirm with its first code, see the recovery codes once, go on."""

    template = "registration/login_enrol.html"

    def _context(self):
        device = mfa.enrolment_device(self.user)
        return {"pending": self.user, "qr_code": mfa.qr_code_svg(device), "secret": mfa.secret_text(device)}

    def get(self, request):
        if mfa.second_factor_needed(self.user) != mfa.Need.ENROL:
            return redirect("login-code")
        return render(request, self.template, self._context())

    def post(self, request):
        if mfa.second_factor_needed(self.user) != mfa.Need.ENROL:
            return redirect("login-code")
        locked = self._locked(request)
        if locked is not None:
            return locked
        try:
            codes = mfa.enrol_confirm(user=self.user, code=request.POST.get("otp"), request=request,
                                      address=client_address(request))
        except ServiceError as error:
            return _refused(request, self.template, self._context(), error)
        target = self._signed_in(request)
        return render(request, "registration/recovery_codes.html", {"codes": codes, "next": target})


class AccountSecurityView(_MethodsFirst, LoginRequiredMixin, View):
    """``/account/security/``: two-step sign-in on or off, recovery codes left; renew them or turn it off (``action``
    ``regenerate`` or ``disable``, with a current code in ``otp``)."""

    http_method_names = ["get", "post", "head", "options"]
    template = "registration/account_security.html"

    def _context(self, request):
        target = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
            target = ""
        return {"status": mfa.status(request.user), "next": target}

    def get(self, request):
        return render(request, self.template, self._context(request))

    def post(self, request):
        action = request.POST.get("action")
        address = client_address(request)
        try:
            if action == "regenerate":
                codes = mfa.recovery_codes_regenerate(user=request.user, code=request.POST.get("otp"),
                                                      request=request, address=address)
                return render(request, "registration/recovery_codes.html",
                              {"codes": codes, "next": reverse("account-security")})
            if action == "disable":
                mfa.mfa_disable(user=request.user, code=request.POST.get("otp"), request=request, address=address)
                messages.success(request, _("Two-step sign-in is off."))
                return redirect("account-security")
            message = _("Choose an action: regenerate or disable.")
            raise ServiceError(message, {"action": [message]})
        except ServiceError as error:
            return _refused(request, self.template, self._context(request), error)


class AccountEnrolView(_MethodsFirst, LoginRequiredMixin, View):
    """``/account/security/enrol/``: turn two-step sign-in on (the same set-up as at sign-in)."""

    http_method_names = ["get", "post", "head", "options"]
    template = "registration/account_enrol.html"

    def _context(self, request):
        device = mfa.enrolment_device(request.user)
        return {"qr_code": mfa.qr_code_svg(device), "secret": mfa.secret_text(device)}

    def get(self, request):
        if mfa.is_enabled(request.user):
            return redirect("account-security")
        return render(request, self.template, self._context(request))

    def post(self, request):
        if mfa.is_enabled(request.user):
            return redirect("account-security")
        try:
            codes = mfa.enrol_confirm(user=request.user, code=request.POST.get("otp"), request=request,
                                      address=client_address(request))
        except ServiceError as error:
            return _refused(request, self.template, self._context(request), error)
        return render(request, "registration/recovery_codes.html",
                      {"codes": codes, "next": reverse("account-security")})


def admin_login(request):
    """The admin's login page is ``/login/`` (which asks for the second factor), then back to the admin."""
    target = request.GET.get("next") or reverse("admin:index")
    return HttpResponseRedirect(f"{reverse('login')}?{urlencode({'next': target})}")
