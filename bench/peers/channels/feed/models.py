from django.db import models


class Member(models.Model):
    name = models.CharField(max_length=100)
    # A support agent (the chat comparison): the seed's ``is_staff``.
    is_agent = models.BooleanField(default=False)


class Token(models.Model):
    """An opaque bearer token, looked up on every request and at every socket's connect."""

    key = models.CharField(max_length=64, primary_key=True)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="tokens")


class Ticket(models.Model):
    title = models.CharField(max_length=200)


class Comment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(Member, on_delete=models.CASCADE)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
