"""``/api/public/feedback/`` (citizens, no account: the tracking token authenticates) and ``/api/reopen-requests/``
(the command center). Thin: the services decide."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from dispatch.core.errors import Invalid
from dispatch.rest.fields import TextField
from dispatch.rest.filters import MAX_ID
from dispatch.runtime.throttling import client_address, hit
from public.models import Feedback, ReopenRequest
from public.services.feedback import MAX_TEXT, feedback_submit
from public.services.reopen import DECISIONS, reopen_decide, reopen_requests_list


class FeedbackRateLimit(BaseThrottle):
    """Per client address (``RATE_LIMITS["public_feedback"]``): anyone may post, so nobody may post much."""

    def allow_request(self, request, view):
        allowed, self._wait = hit("public_feedback", client_address(request))
        return allowed

    def wait(self):
        return self._wait


class StrictBooleanField(serializers.BooleanField):
    """true or false only: DRF's own takes "yes", "on", 1 ... which hides a client's mistake."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class FeedbackRequestSerializer(serializers.Serializer):
    token = TextField(max_length=100)
    satisfied = StrictBooleanField()
    reasons = serializers.ListField(
        child=serializers.ChoiceField(choices=Feedback.Reason.values),
        required=False,
        max_length=len(Feedback.Reason.values),
        help_text=_("Why not satisfied: not_fixed raises a reopen request."),
    )
    text = TextField(max_length=MAX_TEXT, required=False, allow_blank=True)


class FeedbackView(APIView):
    authentication_classes: list = []  # no session, so no CSRF: the token in the body is the credential
    permission_classes = [AllowAny]
    throttle_classes = [FeedbackRateLimit]

    @extend_schema(request=FeedbackRequestSerializer, responses={201: None}, auth=[])
    def post(self, request):
        body = FeedbackRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        feedback_submit(
            token=data["token"], satisfied=data["satisfied"], reasons=data.get("reasons", []), text=data.get("text", "")
        )
        return Response({"detail": _("Thank you.")}, status=status.HTTP_201_CREATED)


class ReopenRequestSerializer(serializers.ModelSerializer):
    incident = serializers.IntegerField(source="incident_id", read_only=True)
    incident_number = serializers.CharField(source="incident.number", read_only=True)
    department = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    reasons = serializers.ListField(source="feedback.reasons", child=serializers.CharField(), read_only=True)
    text = serializers.CharField(source="feedback.text", read_only=True)

    class Meta:
        model = ReopenRequest
        fields = [
            "id",
            "incident",
            "incident_number",
            "state",
            "due_at",
            "reasons",
            "text",
            "department",
            "note",
            "decided_at",
            "created_at",
        ]
        read_only_fields = fields


class ReopenRequestListView(APIView):
    @extend_schema(responses=ReopenRequestSerializer(many=True))
    def get(self, request):
        found = reopen_requests_list(actor=request.user, state=request.query_params.get("state") or None)
        return Response(ReopenRequestSerializer(found[:200], many=True).data)


class ReopenDecisionRequestSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=DECISIONS)
    department = serializers.CharField(max_length=64, required=False, allow_blank=True)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class ReopenDecisionView(APIView):
    @extend_schema(request=ReopenDecisionRequestSerializer, responses=ReopenRequestSerializer)
    def post(self, request, pk: int):
        if pk > MAX_ID:
            raise Invalid(_("No such reopen request."), {"id": [_("Too large.")]})
        body = ReopenDecisionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        found = reopen_decide(actor=request.user, request_id=pk, **body.validated_data)
        return Response(ReopenRequestSerializer(found).data)
