from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class Company(models.Model):
    name = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "companies"

    def __str__(self):
        return self.name


class User(AbstractUser):
    # Null only for TicketFlower staff (superusers), who belong to no company.
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.CASCADE, related_name="users"
    )
    is_ticket_admin = models.BooleanField(default=False)


class TicketType(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="ticket_types")
    name = models.CharField(max_length=255)
    json_schema = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class Ticket(models.Model):
    class Status(models.TextChoices):
        NOT_STARTED = "NOT_STARTED"
        IN_PROGRESS = "IN_PROGRESS"
        COMPLETED = "COMPLETED"
        CANCELLED = "CANCELLED"
        ON_HOLD = "ON_HOLD"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="tickets")
    number = models.PositiveIntegerField()
    ticket_type = models.ForeignKey(TicketType, on_delete=models.PROTECT, related_name="tickets")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tickets"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_PROGRESS)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="ticket_number_per_company"),
        ]
        indexes = [
            models.Index(fields=["company", "-created_at"], name="ticket_company_created"),
            models.Index(fields=["requester", "-created_at"], name="ticket_requester_created"),
        ]

    def __str__(self):
        return f"#{self.number}"


class Task(models.Model):
    class Status(models.TextChoices):
        OPEN = "OPEN"
        IN_PROGRESS = "IN_PROGRESS"
        PENDING = "PENDING"
        COMPLETED = "COMPLETED"
        CANCELLED = "CANCELLED"
        ERROR = "ERROR"

    # Statuses that count towards a worker's queue.
    ACTIVE = (Status.OPEN, Status.IN_PROGRESS, Status.PENDING)

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="tasks")
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tasks",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["assignee", "status"], name="task_assignee_status")]

    def __str__(self):
        return self.name


class Comment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="comments"
    )
    body = models.TextField()
    internal = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
