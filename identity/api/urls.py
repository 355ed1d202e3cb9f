"""/api/auth/... (dispatch/urls.py includes these beside the WebSocket ticket)."""

from django.urls import path

from identity.api.views import LogoutView, SessionView, TokenDetailView, TokenListView, TokenLoginView

urlpatterns = [
    path("token/", TokenLoginView.as_view(), name="api-token"),
    path("logout/", LogoutView.as_view(), name="api-logout"),
    path("tokens/", TokenListView.as_view(), name="api-tokens"),
    path("tokens/<str:token_id>/", TokenDetailView.as_view(), name="api-token-detail"),
    path("session/", SessionView.as_view(), name="api-session"),
]
