from rest_framework import status, viewsets
from rest_framework.response import Response

from .models import Ticket
from .serializers import TicketCreateSerializer, TicketDetailSerializer, TicketSerializer
from .services import submit_ticket


class TicketViewSet(viewsets.ModelViewSet):
    """Tickets of the caller's company: ticket admins see all of them, others their own."""

    def get_queryset(self):
        user = self.request.user
        queryset = Ticket.objects.filter(company_id=user.company_id)
        if not user.is_ticket_admin:
            queryset = queryset.filter(requester=user)
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("tasks")
        return queryset.order_by("-created_at")

    def get_serializer_class(self):
        if self.action == "create":
            return TicketCreateSerializer
        if self.action == "retrieve":
            return TicketDetailSerializer
        return TicketSerializer

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ticket = submit_ticket(
            request.user,
            serializer.validated_data["ticket_type"],
            serializer.validated_data["data"],
        )
        return Response(TicketDetailSerializer(ticket).data, status=status.HTTP_201_CREATED)
