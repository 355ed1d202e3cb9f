from django.urls import path

from dispatch.live.consumers import ConsoleConsumer, DepartmentConsumer

websocket_urlpatterns = [
    path("ws/console/", ConsoleConsumer.as_asgi()),
    path("ws/departments/<slug:code>/", DepartmentConsumer.as_asgi()),
]
