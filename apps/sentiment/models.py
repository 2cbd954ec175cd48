"""Sources, documents and their scores, the watchlist, trend buckets, alert rules and alerts."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.upload_jobs import ImportJobBase


def _token() -> str:
    return secrets.token_urlsafe(24)


class Source(models.Model):
    class Kind(models.TextChoices):
        RSS = "rss", "RSS feed"
        ATOM = "atom", "Atom feed"
        API = "api", "Push API"
        UPLOAD = "upload", "File upload"

    class Status(models.TextChoices):
        NEW = "new", "Not polled yet"
        OK = "ok", "OK"
        FAILING = "failing", "Failing"
        PAUSED = "paused", "Paused"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.RSS)
    url = models.CharField(max_length=1000, blank=True)
    language = models.CharField(max_length=8, blank=True, help_text="default language of items")
    poll_interval_s = models.PositiveIntegerField(default=900)
    etag = models.CharField(max_length=500, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    polling_since = models.DateTimeField(null=True, blank=True)
    items_total = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_feed(self) -> bool:
        return self.kind in (self.Kind.RSS, self.Kind.ATOM)


class Document(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be scored"
        SCORING = "scoring", "Being scored"
        SCORED = "scored", "Scored"
        FAILED = "failed", "Scoring failed"

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="documents")
    external_id = models.CharField(max_length=500, blank=True)
    url = models.CharField(max_length=1000, blank=True)
    title = models.CharField(max_length=1000, blank=True)
    body = models.TextField(blank=True)
    published_at = models.DateTimeField(db_index=True)
    language = models.CharField(max_length=8, blank=True)
    content_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    ingested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Scoring state for the sweeper: when it was last handed to the queue, when a worker claimed
    # it, how often it was claimed, and why it failed (status "failed").
    queued_at = models.DateTimeField(null=True, blank=True)
    scoring_since = models.DateTimeField(null=True, blank=True)
    score_attempts = models.PositiveSmallIntegerField(default=0)
    score_error = models.TextField(blank=True)
    entities: models.ManyToManyField[Entity, DocumentEntity] = models.ManyToManyField(
        "Entity", through="DocumentEntity", blank=True
    )

    class Meta:
        ordering = ["-published_at", "-id"]
        constraints = [
            # Re-ingesting the same item changes nothing, whichever identity it arrives with.
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="sentiment_document_unique_external_id",
            ),
            models.UniqueConstraint(
                fields=["url"], condition=~Q(url=""), name="sentiment_document_unique_url"
            ),
        ]

    def __str__(self) -> str:
        return self.title[:80] or self.body[:80]

    @property
    def text(self) -> str:
        return f"{self.title}. {self.body}".strip(". ") if self.body else self.title


class Score(models.Model):
    document = models.OneToOneField(Document, on_delete=models.CASCADE, related_name="score")
    label = models.CharField(max_length=10, db_index=True)
    positive = models.FloatField()
    neutral = models.FloatField()
    negative = models.FloatField()
    value = models.FloatField(help_text="positive minus negative probability, -1..1")
    model_version = models.CharField(max_length=40)
    sentences = models.JSONField(default=list, blank=True)
    sentences_skipped = models.PositiveIntegerField(
        default=0, help_text="sentences of a long body past SENTIMENT_MAX_SENTENCES, not scored"
    )
    topics = models.JSONField(default=dict, blank=True)
    scored_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.label} ({self.value:+.2f})"

    @property
    def confidence(self) -> float:
        return max(self.positive, self.neutral, self.negative)


class Entity(models.Model):
    """A company on the watchlist."""

    name = models.CharField(max_length=200, unique=True)
    ticker = models.CharField(max_length=12, blank=True)
    aliases = models.JSONField(default=list, blank=True)
    ticker_needs_context = models.BooleanField(
        default=False,
        help_text="the ticker is also a common word (AI, ALL, NOW): only count '$AI', '(AI)', "
        "'NYSE: AI' or the ticker next to the company's name",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "entities"

    def __str__(self) -> str:
        return f"{self.name} ({self.ticker})" if self.ticker else self.name


class DocumentEntity(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE)
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE)
    mentions = models.PositiveIntegerField(default=1)
    matched = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document", "entity"], name="sentiment_doc_entity")
        ]

    def __str__(self) -> str:
        return f"{self.entity_id} in {self.document_id}"


class Aggregate(models.Model):
    """Counts per class for one subject (an entity or a topic) in one hour."""

    class SubjectKind(models.TextChoices):
        ENTITY = "entity", "Entity"
        TOPIC = "topic", "Topic"
        ALL = "all", "All documents"

    subject_kind = models.CharField(max_length=10, choices=SubjectKind.choices)
    subject_key = models.CharField(max_length=200)
    bucket_start = models.DateTimeField()
    n = models.PositiveIntegerField(default=0)
    n_positive = models.PositiveIntegerField(default=0)
    n_neutral = models.PositiveIntegerField(default=0)
    n_negative = models.PositiveIntegerField(default=0)
    score_sum = models.FloatField(default=0.0)

    class Meta:
        ordering = ["subject_kind", "subject_key", "bucket_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject_kind", "subject_key", "bucket_start"],
                name="sentiment_aggregate_bucket",
            )
        ]
        indexes = [models.Index(fields=["subject_kind", "subject_key", "bucket_start"])]

    def __str__(self) -> str:
        return f"{self.subject_kind}:{self.subject_key} @ {self.bucket_start:%Y-%m-%d %H:00}"

    @property
    def mean_score(self) -> float:
        return self.score_sum / self.n if self.n else 0.0

    @property
    def negative_share(self) -> float:
        return self.n_negative / self.n if self.n else 0.0


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


class Correction(models.Model):
    """An analyst's fix of a predicted label; joins the next training set."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="corrections")
    sentence = models.TextField()
    predicted_label = models.CharField(max_length=10)
    label = models.CharField(max_length=10)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    used_in_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.predicted_label} -> {self.label}: {self.sentence[:60]}"


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


class LabelledSet(models.Model):
    """An imported labelled training set (CSV sentence,label or PhraseBank sentence@label)."""

    name = models.CharField(max_length=200)
    filename = models.CharField(max_length=255, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    row_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.row_count} sentences)"


class LabelledSentence(models.Model):
    """One row of a labelled set; `line` is where it stood in the imported file."""

    labelled_set = models.ForeignKey(LabelledSet, on_delete=models.CASCADE, related_name="rows")
    line = models.PositiveIntegerField()
    sentence = models.TextField()
    label = models.CharField(max_length=10)

    class Meta:
        ordering = ["labelled_set", "line"]

    def __str__(self) -> str:
        return f"{self.label}: {self.sentence[:60]}"


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


class ImportJob(ImportJobBase):
    """An uploaded file of documents or labelled sentences being ingested (see upload_jobs)."""

    class Kind(models.TextChoices):
        DOCUMENTS = "documents"
        LABELLED_SET = "labelled_set"

    kind = models.CharField(max_length=20, choices=Kind.choices)

    class Meta(ImportJobBase.Meta):
        indexes = [models.Index(fields=["status", "updated_at"])]
