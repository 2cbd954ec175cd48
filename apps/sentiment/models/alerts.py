"""Alert rules, the alerts they open, unsubscribes and the email deliveries of alerts."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from .documents import Aggregate, Document, Entity


def _token() -> str:
    return secrets.token_urlsafe(24)


class AlertRule(models.Model):
    class Metric(models.TextChoices):
        NEGATIVE_SHARE = "negative_share", "Share of negative texts"
        VOLUME = "volume", "Number of texts"
        MEAN_SCORE_DROP = "mean_score_drop", "Drop in mean sentiment"

    class Mode(models.TextChoices):
        SPIKE = "spike", "Spike against the baseline (z-score)"
        THRESHOLD = "threshold", "Fixed threshold"

    class Delivery(models.TextChoices):
        IMMEDIATE = "immediate", "Email at once"
        DIGEST = "digest", "Daily digest email"
        NONE = "none", "Dashboard only"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sentiment_rules"
    )
    name = models.CharField(max_length=200)
    entities = models.ManyToManyField(Entity, blank=True, related_name="rules")
    topics = models.JSONField(default=list, blank=True)
    metric = models.CharField(max_length=20, choices=Metric.choices, default=Metric.NEGATIVE_SHARE)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.SPIKE)
    sensitivity = models.FloatField(default=3.0, help_text="z-score that fires (spike mode)")
    threshold = models.FloatField(null=True, blank=True, help_text="value that fires")
    window_hours = models.PositiveIntegerField(default=6)
    min_volume = models.PositiveIntegerField(default=5)
    cooldown_hours = models.PositiveIntegerField(default=12)
    delivery = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.IMMEDIATE)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    class SendSkipped(models.TextChoices):
        NO_ADDRESS = "no_address", "Not emailed: the rule's owner has no email address"
        UNSUBSCRIBED = "unsubscribed", "Not emailed: the rule's owner unsubscribed"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    subject_kind = models.CharField(max_length=10, choices=Aggregate.SubjectKind.choices)
    subject_key = models.CharField(max_length=200)
    subject_label = models.CharField(max_length=200)
    metric = models.CharField(max_length=20, choices=AlertRule.Metric.choices)
    value = models.FloatField()
    baseline = models.FloatField()
    z_score = models.FloatField(null=True, blank=True)
    volume = models.PositiveIntegerField(default=0)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    reason = models.TextField()
    documents = models.ManyToManyField(Document, blank=True, related_name="alerts")
    status = models.CharField(
        max_length=15, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    episode_open = models.BooleanField(
        default=True, help_text="the condition still holds; no new alert until it clears"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(null=True, blank=True, help_text="the email went out")
    # A worker holds the send while this is recent; a stale claim (its worker died) is taken over.
    send_claimed_at = models.DateTimeField(null=True, blank=True)
    send_attempts = models.PositiveIntegerField(default=0)
    send_error = models.TextField(blank=True)
    send_skipped = models.CharField(
        max_length=20,
        choices=SendSkipped.choices,
        blank=True,
        help_text="why no email (immediate or digest) was sent for this alert",
    )
    digest_sent_at = models.DateTimeField(null=True, blank=True)
    digest_claimed_at = models.DateTimeField(null=True, blank=True)
    action_token = models.CharField(max_length=64, default=_token, unique=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One alert per episode, even when two evaluations race.
            models.UniqueConstraint(
                fields=["rule", "subject_kind", "subject_key"],
                condition=Q(episode_open=True),
                name="sentiment_alert_one_open_episode",
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject_label}: {self.reason[:60]}"


class Unsubscribe(models.Model):
    """A user asked for no more email from one rule (rule set) or from every rule (rule null)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sentiment_unsubscribes"
    )
    rule = models.ForeignKey(AlertRule, null=True, blank=True, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "rule"], name="sentiment_unsubscribe_once"),
            models.UniqueConstraint(
                fields=["user"], condition=Q(rule=None), name="sentiment_unsubscribe_all_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} from {self.rule or 'all rules'}"


class EmailDelivery(models.Model):
    """One alert email (or daily digest) to one recipient, under a stable Message-ID.

    It is claimed (`handed_at`) before the message goes to the SMTP server and never handed over
    again unless the server refused it, so a worker that dies after the server took the message
    leaves a claim that is settled as "probably sent" instead of mailing a second copy."""

    class Kind(models.TextChoices):
        ALERT = "alert", "Alert"
        DIGEST = "digest", "Daily digest"

    class Outcome(models.TextChoices):
        PENDING = "", "Not sent yet"
        SENT = "sent", "Accepted by the SMTP server"
        UNCONFIRMED = "unconfirmed", "Probably sent: its worker stopped after handing it over"

    message_id = models.CharField(max_length=250, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    address = models.CharField(max_length=254)
    alerts = models.ManyToManyField(Alert, related_name="deliveries")
    handed_at = models.DateTimeField(
        null=True, blank=True, help_text="handed to the SMTP server; released only if it refused"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "email deliveries"

    def __str__(self) -> str:
        return f"{self.kind} {self.message_id} ({self.outcome or 'pending'})"
