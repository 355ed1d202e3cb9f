"""Event types and workflow versions."""

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dispatch.core.i18n import localized
from dispatch.models import Role
from dispatch.rest.parsers import YAMLParser
from workflows.models import EventType, WorkflowVersion
from workflows.services import workflow_publish


def definition_view(version: WorkflowVersion) -> dict:
    """The contract's shape of an event type's definition, labels in the active language."""
    spec = version.spec
    return {
        "initial_state": spec.initial_state,
        "initial_state_by_source": spec.initial_state_by_source,
        "states": [
            {
                "name": s.name, "label": localized(s.label), "final": s.final, "sla_seconds": s.sla_seconds,
                "sla_paused": s.sla_paused,
                "dispatch": [
                    {"department": d.department, "priority": d.priority, "ack_timeout_seconds": d.ack_timeout_seconds}
                    for d in s.dispatch
                ],
            }
            for s in spec.states.values()
        ],
        "transitions": [
            {"name": t.name, "label": localized(t.label), "from": list(t.sources), "to": t.target,
             "roles": list(t.roles), "guard": t.guard,
             # For pages: ask "are you sure?" before a destructive transition; ask for a note before one that needs it.
             "destructive": t.destructive, "note_required": t.guard == "note_required",
             # Fired only by deciding a citizen's reopen request (never a button).
             "reopens": t.reopens}
            for t in spec.transitions
        ],
    }


class EventTypeListView(APIView):
    @extend_schema(responses={200: serializers.ListSerializer(child=serializers.DictField())})
    def get(self, request: Request) -> Response:
        out = []
        for et in EventType.objects.filter(is_active=True, active_version__isnull=False).select_related("active_version"):
            active = et.active_version
            assert active is not None  # filtered on active_version__isnull=False
            out.append({"code": et.code, "name": et.display_name, "active_version": active.version,
                        **definition_view(active)})
        return Response(out)


class WorkflowVersionListView(APIView):
    @extend_schema(responses={200: serializers.ListSerializer(child=serializers.DictField())})
    def get(self, request: Request, code: str) -> Response:
        et = EventType.objects.filter(code=code).first()
        if et is None:
            raise NotFound()
        return Response([_version_view(v, et) for v in et.versions.order_by("version")])


class WorkflowPublishView(APIView):
    parser_classes = [JSONParser, YAMLParser]

    @extend_schema(request={"application/json": dict, "application/yaml": str}, responses={201: dict, 200: dict})
    def post(self, request: Request) -> Response:
        user = request.user
        assert not isinstance(user, AnonymousUser)  # IsAuthenticated (the default permission) keeps them out
        if user.role != Role.ADMIN:
            raise PermissionDenied()
        raw = request.data["__yaml__"] if isinstance(request.data, dict) and "__yaml__" in request.data else request.data
        version, created = workflow_publish(actor=user, raw=raw)
        return Response(
            _version_view(version, version.event_type), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


def _version_view(v: WorkflowVersion, et: EventType) -> dict:
    return {
        "code": et.code, "version": v.version, "active": et.active_version_id == v.pk, "checksum": v.checksum,
        "created_at": v.created_at, "created_by": v.created_by.username if v.created_by_id and v.created_by is not None else None,
        "definition": definition_view(v), "source": v.source,
    }
