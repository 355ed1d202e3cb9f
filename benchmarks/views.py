"""The baseline endpoint: authenticate a token (as the API does: a person's device token), insert one row, answer 201. Nothing else (no throttling, no
serializer, no audit), so that its CPU per request is what the framework itself costs."""

from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from benchmarks.models import Probe
from dispatch.rest.authentication import DeviceTokenAuthentication


class BaselineView(APIView):
    authentication_classes = [DeviceTokenAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes: list = []
    parser_classes = [JSONParser]
    schema = None  # not part of the public API

    def post(self, request):
        note = request.data.get("note", "") if isinstance(request.data, dict) else ""
        probe = Probe.objects.create(note=str(note)[:200])
        return Response({"id": probe.pk}, status=201)
