"""Response shapes of the activation endpoints, for the OpenAPI schema (the services build the payloads:
``plans.services.activations.activation_payload``, ``plans.services.warnings.cap_message_view``)."""

from rest_framework import serializers

from plans.models import LEVEL_CHOICES, TASK_API_STATES, Activation


class I18nTextSerializer(serializers.Serializer):
    en = serializers.CharField()
    zh = serializers.CharField()


class ActivationTaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    department = serializers.CharField()
    department_name = serializers.CharField()
    department_name_i18n = I18nTextSerializer()
    level = serializers.ChoiceField(choices=LEVEL_CHOICES)
    task = serializers.CharField()
    task_i18n = I18nTextSerializer()
    state = serializers.ChoiceField(choices=TASK_API_STATES)
    due_at = serializers.DateTimeField()
    ack_timeout_seconds = serializers.IntegerField()
    acknowledged_by = serializers.CharField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    escalation_step = serializers.IntegerField()


class ActivationWarningSerializer(serializers.Serializer):
    identifier = serializers.CharField()
    sender = serializers.CharField()
    msg_type = serializers.CharField()
    outcome = serializers.CharField()
    sent = serializers.DateTimeField()
    received_at = serializers.DateTimeField()


class ActivationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    plan = serializers.CharField()
    plan_name = serializers.CharField()
    plan_name_i18n = I18nTextSerializer()
    plan_version = serializers.IntegerField()
    level = serializers.ChoiceField(choices=LEVEL_CHOICES)
    districts = serializers.ListField(child=serializers.CharField())
    source = serializers.ChoiceField(choices=Activation.Source.choices)  # type: ignore[assignment]  # the metaclass takes it
    cap_identifier = serializers.CharField(allow_null=True)
    cap_sender = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    started_at = serializers.DateTimeField()
    started_by = serializers.CharField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    ended_by = serializers.CharField(allow_null=True)
    end_reason = serializers.CharField()
    active = serializers.BooleanField()
    overrides = serializers.DictField(allow_null=True)
    tasks = ActivationTaskSerializer(many=True)
    warnings = ActivationWarningSerializer(many=True)


class ActivationTimelineRowSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    actor = serializers.CharField()
    actor_display = serializers.CharField()
    data = serializers.DictField()  # type: ignore[assignment]  # the metaclass takes it
    reason_text = serializers.CharField(allow_null=True)
    hash = serializers.CharField()


class ActivationDetailSerializer(ActivationSerializer):
    timeline = ActivationTimelineRowSerializer(many=True)
    chain_intact = serializers.BooleanField()


class CapActivationBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    plan = serializers.CharField()
    level = serializers.CharField()
    active = serializers.BooleanField()


class CapMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sender = serializers.CharField()
    identifier = serializers.CharField()
    sent = serializers.DateTimeField()
    msg_type = serializers.CharField()
    status = serializers.CharField()
    event = serializers.CharField()
    severity = serializers.CharField()
    headline = serializers.CharField()
    headline_i18n = serializers.DictField(child=serializers.CharField())
    expires = serializers.DateTimeField(allow_null=True)
    districts = serializers.ListField(child=serializers.CharField())
    outcome = serializers.CharField()
    outcome_display = serializers.CharField()
    detail = serializers.CharField()
    received_at = serializers.DateTimeField()


class CapListItemSerializer(CapMessageSerializer):
    activation = CapActivationBriefSerializer(allow_null=True)


class CapReceivedSerializer(CapMessageSerializer):
    activation = ActivationSerializer(allow_null=True)
    repeated = serializers.BooleanField()
