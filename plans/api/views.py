"""Response plans: the list (everyone signed in) and publishing (admins), like workflow definitions."""

from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dispatch.core.i18n import localized
from dispatch.rest.parsers import YAMLParser
from plans.definition import LEVELS, SEVERITIES
from plans.models import PlanVersion, ResponsePlan
from plans.services import plan_publish


def plan_view(plan: ResponsePlan, version: PlanVersion) -> dict[str, Any]:
    """A plan's normalized definition, texts in the active language (both languages kept under ``*_i18n``)."""
    spec = version.spec
    # Mappings are put back in order (IV..I, Minor..Extreme): a jsonb column does not keep the order of keys.
    levels = {name: spec["levels"][name] for name in LEVELS if name in spec["levels"]}
    return {
        "code": plan.code, "name": spec["name"], "display_name": localized(spec["name"]),
        "description": localized(spec["description"]) if spec["description"] else "",
        "version": version.version, "checksum": version.checksum, "created_at": version.created_at,
        "triggers": [
            {"events": t["events"], "severities": {s: t["severities"][s] for s in SEVERITIES if s in t["severities"]}}
            for t in spec["triggers"]
        ],
        "levels": {
            name: {
                "tasks": [
                    {"department": t["department"], "task": localized(t["task"]), "task_i18n": t["task"],
                     "ack_timeout_seconds": t["ack_timeout_seconds"]}
                    for t in level["tasks"]
                ],
                "overrides": level["overrides"],
                "hazard_points": [
                    {**h, "title": localized(h["title"]), "title_i18n": h["title"]} for h in level["hazard_points"]
                ],
            }
            for name, level in levels.items()
        },
    }


class PlanListView(APIView):
    """``GET /api/plans/`` (every signed-in user); ``POST /api/plans/`` publishes a plan (admins)."""

    parser_classes = [JSONParser, YAMLParser]

    @extend_schema(
        summary="Response plans with their active version",
        responses={200: serializers.ListSerializer(child=serializers.DictField())},
    )
    def get(self, request: Request) -> Response:
        plans = ResponsePlan.objects.filter(is_active=True, active_version__isnull=False).select_related("active_version")
        out = []
        for plan in plans:
            assert plan.active_version is not None  # filtered on active_version__isnull=False
            out.append(plan_view(plan, plan.active_version))
        return Response(out)

    @extend_schema(
        summary="Publish a response plan (admins)",
        description=(
            "The plan as YAML (`Content-Type: application/yaml`) or JSON; grammar in the README, \"Response plans\". "
            "201 a new version, 200 identical to the active version (nothing published), 400 listing every problem "
            "under `errors.definition`."
        ),
        request={"application/json": dict, "application/yaml": str},
        responses={201: dict, 200: dict},
        examples=[OpenApiExample("manual-only plan", request_only=True, media_type="application/json", value={
            "code": "drill", "name": {"en": "Drill", "zh": "演练"}, "triggers": [],
            "levels": {"IV": {"tasks": [{"department": "city_management", "task": {"en": "Stand by", "zh": "待命"},
                                         "ack_timeout": "30m"}]}},
        })],
    )
    def post(self, request: Request) -> Response:
        user = request.user
        assert not isinstance(user, AnonymousUser)  # IsAuthenticated (the default permission) keeps them out
        raw = request.data["__yaml__"] if isinstance(request.data, dict) and "__yaml__" in request.data else request.data
        version, created = plan_publish(actor=user, raw=raw)
        return Response(plan_view(version.plan, version),
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
