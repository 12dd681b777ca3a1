"""Makes --agents agents and --requesters requesters, each with a token; prints them as
JSON. Conversations are opened by the bench through ``POST /conversations``, as requesters
open them."""
import json
import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from feed.models import Member, Token


class Command(BaseCommand):
    help = "Seed agents and requesters with tokens; print them as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--agents", type=int, default=10)
        parser.add_argument("--requesters", type=int, default=100)

    def handle(self, *args, **options):
        people = {}
        with transaction.atomic():
            for kind, count, is_agent in (
                ("agents", options["agents"], True),
                ("requesters", options["requesters"], False),
            ):
                members = Member.objects.bulk_create(
                    [Member(name=f"{kind} {n}", is_agent=is_agent) for n in range(count)]
                )
                tokens = Token.objects.bulk_create(
                    [Token(key=secrets.token_hex(24), member=m) for m in members]
                )
                people[kind] = [{"id": t.member.id, "token": t.key} for t in tokens]
        self.stdout.write(json.dumps(people))
