from jsonschema import Draft202012Validator
from rest_framework import serializers

from .models import Task, Ticket, TicketType


class TaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = Task
        fields = ["id", "name", "status", "assignee", "created_at", "completed_at"]
        read_only_fields = fields


class TicketSerializer(serializers.ModelSerializer):
    class Meta:
        model = Ticket
        fields = [
            "id",
            "number",
            "ticket_type",
            "requester",
            "status",
            "data",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "number", "ticket_type", "requester", "created_at", "updated_at"]


class TicketDetailSerializer(TicketSerializer):
    tasks = TaskSerializer(many=True, read_only=True)

    class Meta(TicketSerializer.Meta):
        fields = TicketSerializer.Meta.fields + ["tasks"]


def schema_errors(schema, data):
    """Human-readable jsonschema errors, each prefixed by the path of the failing value."""
    validator = Draft202012Validator(schema)
    messages = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path))):
        path = "/".join(str(part) for part in error.absolute_path)
        messages.append(f"{path}: {error.message}" if path else error.message)
    return messages


class TicketCreateSerializer(serializers.ModelSerializer):
    ticket_type_id = serializers.PrimaryKeyRelatedField(
        source="ticket_type", queryset=TicketType.objects.none()
    )
    data = serializers.JSONField()

    class Meta:
        model = Ticket
        fields = ["ticket_type_id", "data"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            # A user may only submit ticket types of their own company.
            self.fields["ticket_type_id"].queryset = TicketType.objects.filter(
                company_id=request.user.company_id
            )

    def validate(self, attrs):
        errors = schema_errors(attrs["ticket_type"].json_schema, attrs["data"])
        if errors:
            raise serializers.ValidationError({"data": errors})
        return attrs
