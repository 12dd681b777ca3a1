"""Makes one ticket, its commenter and one token per socket; prints them as JSON."""
import json
import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from feed.models import Member, Ticket, Token


class Command(BaseCommand):
    help = "Seed a ticket, an admin token and --tokens socket tokens; print them as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--tokens", type=int, default=1000)

    def handle(self, *args, **options):
        count = options["tokens"]
        with transaction.atomic():
            admin = Member.objects.create(name="admin")
            admin_token = Token.objects.create(key=secrets.token_hex(24), member=admin)
            ticket = Ticket.objects.create(title="The ticket everyone watches")
            members = Member.objects.bulk_create(
                [Member(name=f"watcher {n}") for n in range(count)]
            )
            tokens = Token.objects.bulk_create(
                [Token(key=secrets.token_hex(24), member=m) for m in members]
            )
        self.stdout.write(
            json.dumps(
                {
                    "ticket_id": ticket.id,
                    "admin_token": admin_token.key,
                    "tokens": [t.key for t in tokens],
                }
            )
        )
