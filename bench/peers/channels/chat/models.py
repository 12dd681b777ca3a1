"""Support chat as the seed's chat services stored it: a conversation between a requester
and the agent it was given to, and its messages, each chained to the one before it by a
SHA-256 over the previous hash, the sender and the content (du-soc-chat-svc's
``Message.save``), numbered in its conversation."""
import hashlib

from django.db import models

from feed.models import Member


class Conversation(models.Model):
    requester = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="asked")
    agent = models.ForeignKey(
        Member, on_delete=models.SET_NULL, null=True, related_name="answering"
    )
    subject = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    sender = models.ForeignKey(Member, on_delete=models.CASCADE)
    seq = models.IntegerField()
    content = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    previous_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="one_seq_per_conversation")
        ]


def link(previous_hash, sender_id, content):
    """The seed's chain: sha256(previous hash + sender id + content)."""
    return hashlib.sha256(f"{previous_hash}{sender_id}{content}".encode()).hexdigest()
