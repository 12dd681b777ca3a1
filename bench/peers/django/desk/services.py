"""Ticket submission: what TicketFlower does when a ticket is submitted."""
from django.db import transaction
from django.db.models import Count, Max, Q

from .models import Company, Task, Ticket, User


def pick_assignee(company_id):
    """The active user of the company with the fewest open tasks (ties: lowest id)."""
    return (
        User.objects.filter(company_id=company_id, is_active=True)
        .annotate(open_tasks=Count("assigned_tasks", filter=Q(assigned_tasks__status__in=Task.ACTIVE)))
        .order_by("open_tasks", "id")
        .first()
    )


@transaction.atomic
def submit_ticket(user, ticket_type, data):
    """Create the ticket with the company's next number, start its workflow with a first
    "Review" task and assign that task to the least loaded user, all in one transaction."""
    # Lock the company row so concurrent submissions number tickets one after another.
    company = Company.objects.select_for_update().get(pk=user.company_id)
    last = Ticket.objects.filter(company=company).aggregate(last=Max("number"))["last"] or 0
    ticket = Ticket.objects.create(
        company=company,
        number=last + 1,
        ticket_type=ticket_type,
        requester=user,
        status=Ticket.Status.IN_PROGRESS,
        data=data,
    )
    Task.objects.create(
        ticket=ticket,
        name="Review",
        status=Task.Status.OPEN,
        assignee=pick_assignee(company.pk),
    )
    return ticket
