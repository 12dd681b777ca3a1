"""Seed the benchmark data set: companies, users, one ticket type per company, tickets
each with one task and two comments. Prints one line of JSON on stdout for the bench."""
import json

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from desk.models import Comment, Company, Task, Ticket, TicketType, User

PASSWORD = "bench-password"
BATCH = 2000
TICKET_SCHEMA = {
    "type": "object",
    "required": ["title", "amount"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "amount": {"type": "number", "minimum": 0},
        "notes": {"type": "string"},
    },
}


class Command(BaseCommand):
    help = "Create the benchmark data set in an empty database."

    def add_arguments(self, parser):
        parser.add_argument("--companies", type=int, default=5)
        parser.add_argument("--users", type=int, default=50)
        parser.add_argument("--tickets", type=int, default=10000)

    def handle(self, *args, companies, users, tickets, **options):
        if companies < 1 or users < companies or tickets < 0:
            raise CommandError("need companies >= 1, users >= companies, tickets >= 0")
        if Company.objects.exists():
            raise CommandError("the database already holds data: seed a fresh database")

        with transaction.atomic():
            result = self.seed(companies, users, tickets)
        self.stdout.write(json.dumps(result))

    def seed(self, n_companies, n_users, n_tickets):
        companies = Company.objects.bulk_create(
            Company(name=f"Company {i + 1}") for i in range(n_companies)
        )

        # One PBKDF2 hash shared by every user: hashing 50 times would dominate seeding.
        password = make_password(PASSWORD)
        members = {company.pk: [] for company in companies}
        new_users = []
        for i in range(n_users):
            company = companies[i % n_companies]
            k = i // n_companies + 1
            new_users.append(
                User(
                    username=f"c{company.pk}-u{k}",
                    email=f"u{k}@company{company.pk}.example",
                    password=password,
                    company=company,
                    is_ticket_admin=(k == 1),
                )
            )
        for user in User.objects.bulk_create(new_users):
            members[user.company_id].append(user)

        types = {
            t.company_id: t
            for t in TicketType.objects.bulk_create(
                TicketType(company=c, name="Expense claim", json_schema=TICKET_SCHEMA)
                for c in companies
            )
        }

        numbers = {company.pk: 0 for company in companies}
        first_ids = []
        for start in range(0, n_tickets, BATCH):
            batch = []
            for i in range(start, min(start + BATCH, n_tickets)):
                company = companies[i % n_companies]
                numbers[company.pk] += 1
                n = numbers[company.pk]
                staff = members[company.pk]
                done = i % 4 != 0  # a quarter of the tickets are still open
                batch.append(
                    Ticket(
                        company=company,
                        number=n,
                        ticket_type=types[company.pk],
                        requester=staff[n % len(staff)],
                        status=Ticket.Status.COMPLETED if done else Ticket.Status.IN_PROGRESS,
                        data={"title": f"Ticket {n}", "amount": (n * 37) % 1000 + 0.5,
                              "notes": "Seeded for the benchmark."},
                    )
                )
            batch = Ticket.objects.bulk_create(batch)
            now = timezone.now()
            tasks, comments = [], []
            for ticket in batch:
                staff = members[ticket.company_id]
                worker = staff[(ticket.number + 1) % len(staff)]
                done = ticket.status == Ticket.Status.COMPLETED
                tasks.append(
                    Task(
                        ticket=ticket,
                        name="Review",
                        status=Task.Status.COMPLETED if done else Task.Status.OPEN,
                        assignee=worker,
                        completed_at=now if done else None,
                    )
                )
                comments.append(Comment(ticket=ticket, author=ticket.requester,
                                        body="Please review.", internal=False))
                comments.append(Comment(ticket=ticket, author=worker,
                                        body="Looking at it.", internal=True))
                if ticket.company_id == companies[0].pk:
                    first_ids.append(ticket.pk)
            Task.objects.bulk_create(tasks)
            Comment.objects.bulk_create(comments)

        # Up to 200 of company 1's tickets, spread over its whole range.
        step = max(1, len(first_ids) // 200)
        ticket_ids = first_ids[::step][:200]
        return {
            "username": members[companies[0].pk][0].username,
            "password": PASSWORD,
            "ticket_type_id": types[companies[0].pk].pk,
            "ticket_ids": ticket_ids,
        }
