"""GET /api/v1/reminders/: the reminder log (R19), for auditors and admins."""

import django_filters
from django.contrib.auth import get_user_model
from django.urls import path
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated

from compliance.api.permissions import AuditReader
from compliance.api.serializers import ModelSerializer
from compliance.models import Reminder, ReminderKind


class ReminderSerializer(ModelSerializer):  # times with an explicit offset, like the rest
    recipient = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Reminder
        fields = ["id", "kind", "recipient", "email", "subject", "items", "sweep_id", "sent_at"]
        read_only_fields = fields


class ReminderFilter(django_filters.FilterSet):
    # Labels and empty choices are for the reminder log page, which renders this form.
    recipient = django_filters.ModelChoiceFilter(
        field_name="recipient",
        to_field_name="username",
        queryset=get_user_model().objects.order_by("username"),
        empty_label="Anyone",
    )
    kind = django_filters.ChoiceFilter(choices=ReminderKind.choices, empty_label="Any")
    sweep = django_filters.UUIDFilter(field_name="sweep_id", label="Sweep")
    since = django_filters.IsoDateTimeFilter(
        field_name="sent_at", lookup_expr="gte", label="Sent since"
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="sent_at", lookup_expr="lt", label="Sent before"
    )

    class Meta:
        model = Reminder
        fields = ["recipient", "kind", "sweep", "since", "until"]


class ReminderList(generics.ListAPIView):
    """Every reminder and notification e-mail sent, newest first."""

    queryset = Reminder.objects.select_related("recipient").order_by("-sent_at", "-id")
    serializer_class = ReminderSerializer
    permission_classes = [IsAuthenticated, AuditReader]
    filterset_class = ReminderFilter


urlpatterns = [
    path("reminders/", ReminderList.as_view(), name="reminder-list"),
]
