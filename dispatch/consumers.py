"""Live streams. Authorization is decided in ``dispatch.access``; sending only in ``dispatch.realtime``."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from dispatch import access, realtime

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


class _LiveConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = await database_sync_to_async(self.group_for)(user)
        if self.group is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def live_event(self, message):
        await self.send_json(message["event"])

    def group_for(self, user) -> str | None:
        raise NotImplementedError


class ConsoleConsumer(_LiveConsumer):
    def group_for(self, user):
        return realtime.CONSOLE_GROUP if access.is_command(user) else None


class DepartmentConsumer(_LiveConsumer):
    def group_for(self, user):
        code = self.scope["url_route"]["kwargs"]["code"]
        if access.is_command(user) or (access.is_department_member(user) and user.department.code == code):
            return realtime.department_group(code)
        return None
