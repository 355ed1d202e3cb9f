"""``/track/<token>/`` and ``/public/`` (included by ``dispatch/urls.py``)."""

from django.urls import path

from public.web import views

urlpatterns = [
    path("track/<str:token>/", views.track, name="public-track"),
    path("track/<str:token>/feedback/", views.track_feedback, name="public-track-feedback"),
    path("public/", views.figures, name="public-figures"),
    path("public/figures.json", views.figures_json, name="public-figures-json"),
]
