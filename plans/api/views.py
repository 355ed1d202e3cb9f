"""Response plans: the list (everyone signed in) and publishing (admins), like workflow definitions."""

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from departments.models import Department
from dispatch.core.errors import Invalid
from dispatch.core.i18n import localized
from dispatch.rest.fields import NOT_BLANK, TextField
from dispatch.rest.parsers import YAMLParser
from plans.api.serializers import ActivationDetailSerializer, ActivationSerializer
from plans.definition import LEVELS, SEVERITIES
from plans.models import PlanVersion, ResponsePlan
from plans.services.activations import (
    activation_acknowledge,
    activation_end,
    activation_get,
    activation_payload,
    activation_timeline,
    activation_timeline_verify,
    activations_list,
    plan_activate,
)
from plans.services.publishing import plan_publish


def plan_view(plan: ResponsePlan, version: PlanVersion, departments: dict[str, dict] | None = None) -> dict[str, Any]:
    """A plan's normalized definition, texts in the active language (both languages kept under ``*_i18n``).
    ``departments``: code -> names, for the tasks' ``department_name`` (read once for a list of plans)."""
    spec = version.spec
    if departments is None:
        departments = dict(Department.objects.values_list("code", "name"))
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
                    {"department": t["department"], "department_name": localized(departments.get(t["department"]) or {})
                     or t["department"], "task": localized(t["task"]), "task_i18n": t["task"],
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
        departments = dict(Department.objects.values_list("code", "name"))
        for plan in plans:
            assert plan.active_version is not None  # filtered on active_version__isnull=False
            out.append(plan_view(plan, plan.active_version, departments))
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


# --- activations ---------------------------------------------------------------------------------------------


class ActivateRequestSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=list(LEVELS))
    districts = serializers.ListField(child=serializers.SlugField(max_length=64), min_length=1, max_length=200)
    reason = TextField(max_length=1000, validators=[NOT_BLANK])


class ReasonRequestSerializer(serializers.Serializer):
    reason = TextField(max_length=1000, validators=[NOT_BLANK])


class PlanActivateView(APIView):
    """``POST /api/plans/<code>/activate/`` (dispatchers, supervisors): 201 started or changed, 200 unchanged."""

    @extend_schema(summary="Activate a response plan (or change its active activation)",
                   request=ActivateRequestSerializer, responses={201: ActivationSerializer, 200: ActivationSerializer})
    def post(self, request: Request, code: str) -> Response:
        body = ActivateRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        activation, what = plan_activate(
            actor=request.user, plan_code=code, level=body.validated_data["level"],  # type: ignore[arg-type]
            district_codes=body.validated_data["districts"], reason=body.validated_data["reason"],
        )
        return Response(activation_payload(activation),
                        status=status.HTTP_200_OK if what == "unchanged" else status.HTTP_201_CREATED)


class ActivationListView(APIView):
    """``GET /api/activations/`` (everyone signed in): ``?active=true`` those in force, otherwise the latest 100."""

    @extend_schema(summary="Response plan activations", responses={200: ActivationSerializer(many=True)},
                   parameters=[OpenApiParameter("active", bool, description="only those in force (true) or ended (false)")])
    def get(self, request: Request) -> Response:
        active = request.query_params.get("active")
        if active not in (None, "", "true", "false", "1", "0"):
            raise Invalid(_("Invalid filter."), {"active": [_("true or false.")]})
        flag = None if active in (None, "") else active in ("true", "1")
        return Response([activation_payload(a) for a in activations_list(active=flag)])


class ActivationDetailView(APIView):
    """``GET /api/activations/<id>/``: the activation and its hash-chained timeline."""

    @extend_schema(summary="One activation with its timeline", responses={200: ActivationDetailSerializer})
    def get(self, request: Request, pk: int) -> Response:
        activation = activation_get(pk)
        return Response({**activation_payload(activation), "timeline": activation_timeline(activation),
                         "chain_intact": activation_timeline_verify(activation.pk) is None})


class ActivationAcknowledgeView(APIView):
    """``POST /api/activations/<id>/acknowledge/``: the lead of a department with a task acknowledges it (叫应)."""

    @extend_schema(summary="Acknowledge your department's task", request=None, responses={200: ActivationSerializer})
    def post(self, request: Request, pk: int) -> Response:
        return Response(activation_payload(activation_acknowledge(activation_id=pk, actor=request.user)))  # type: ignore[arg-type]


class ActivationEndView(APIView):
    """``POST /api/activations/<id>/end/`` (dispatchers, supervisors) with the reason."""

    @extend_schema(summary="End an activation", request=ReasonRequestSerializer, responses={200: ActivationSerializer})
    def post(self, request: Request, pk: int) -> Response:
        body = ReasonRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        activation = activation_end(activation_id=pk, actor=request.user, reason=body.validated_data["reason"])  # type: ignore[arg-type]
        return Response(activation_payload(activation))
