"""Sources, documents and their scores, the watchlist and the hourly trend buckets."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from apps.mlops.runtime import EMBEDDING_MODEL_CHOICES


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
    # The sentence embedder that tags this source's texts with topics (topic_model.py); a change
    # tags its stored documents again in the background. MiniLM is the better English model.
    embedding_model = models.CharField(
        max_length=20,
        choices=EMBEDDING_MODEL_CHOICES,
        default="minilm",
        help_text="Multilingual for Chinese or mixed texts: they get model topics too.",
    )
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
    # The company's own sentiment in this document. With one company it is the document's
    # score; with several it comes from the passages (sentences or clauses) that mention the
    # company (apps/sentiment/company_text.py). Rows tagged before per-company scoring have no
    # label, and count with the document's score.
    label = models.CharField(max_length=10, blank=True)
    positive = models.FloatField(null=True, blank=True)
    neutral = models.FloatField(null=True, blank=True)
    negative = models.FloatField(null=True, blank=True)
    value = models.FloatField(
        null=True, blank=True, help_text="positive minus negative probability, -1..1"
    )
    passages = models.JSONField(
        default=list,
        blank=True,
        help_text="the passages scored for this company ([]: the whole text)",
    )

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
