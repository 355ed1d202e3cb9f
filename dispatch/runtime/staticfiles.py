"""Static files (admin, API docs) through WhiteNoise, without costing every other request two thread hops.

WhiteNoise 6's middleware is synchronous only. Under ASGI, Django then runs the whole chain below it
through ``async_to_sync`` inside ``sync_to_async``: every API request crossed between the event loop and a
thread three times instead of once (measured: a third of the ASGI server's CPU for a bare endpoint). This
subclass is also asynchronous: finding a path among the static files is a dict lookup, and only a hit is
served on a thread (the file is opened there).
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        super().__init__(get_response)
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self._async:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request):
        static_file = self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
        return await self.get_response(request)
