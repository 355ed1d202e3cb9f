from django.contrib.auth import views as auth_views
from django.urls import path

from dispatch.web import mfa_views, routing, views
from dispatch.web.auth_views import LoginView

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", LoginView.as_view(), name="login"),
    path("login/code/", mfa_views.LoginCodeView.as_view(), name="login-code"),
    path("login/enrol/", mfa_views.LoginEnrolView.as_view(), name="login-enrol"),
    path("account/security/", mfa_views.AccountSecurityView.as_view(), name="account-security"),
    path("account/security/enrol/", mfa_views.AccountEnrolView.as_view(), name="account-enrol"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("console/", views.console, name="console"),
    path("console/wall/", views.console, {"wall": True}, name="console-wall"),
    path("inbox/", views.inbox, name="inbox"),
    path("audit/", views.audit, name="audit"),
    path("audit/incidents/<int:pk>/", views.audit_incident, name="audit-incident"),
    path("routing/dry-run/", routing.routing_dry_run_page, name="routing-dry-run-page"),
]
