from django.conf import settings
from django.db import models

from apps.core.upload_jobs import ImportJobBase

# A held-out score at or above this is shown with a warning, and so is a validation split
# smaller than this many rows (model and version pages).
PERFECT_SCORE = 0.9999
SMALL_VALIDATION = 50


class ModelVersion(models.Model):
    """Mirror of one mlcore registry version, so pages and the admin can list and compare it."""

    name = models.CharField(max_length=100, db_index=True)
    version = models.PositiveIntegerField()
    metrics = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    data_hash = models.CharField(max_length=64, blank=True)
    data_size = models.PositiveIntegerField(default=0)
    label_distribution = models.JSONField(default=dict, blank=True)
    base_model = models.CharField(max_length=300, blank=True)
    artifact_path = models.CharField(max_length=500)
    main_metric = models.CharField(max_length=50, blank=True)
    serving_form = models.CharField(max_length=10, default="fp32")
    origin = models.CharField(
        max_length=300, blank=True, help_text="Where the version came from when it was imported"
    )
    optimisation = models.JSONField(default=dict, blank=True)
    archive_metrics = models.JSONField(
        default=dict,
        blank=True,
        help_text="Metrics an imported archive claimed (display only; the gate evaluates here)",
    )
    is_production = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="uniq_model_version"),
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(is_production=True),
                name="one_production_version_per_model",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def main_value(self) -> float | None:
        value = self.metrics.get(self.main_metric)
        return float(value) if isinstance(value, int | float) else None

    @property
    def score_warnings(self) -> list[str]:
        """Why the held-out score may flatter the version (empty when nothing looks off)."""
        warnings = []
        value = self.main_value
        if value is not None and value >= PERFECT_SCORE:
            warnings.append(
                f"A perfect held-out {self.main_metric} is suspicious: the validation texts may "
                "repeat training texts (duplicates, templates) or the task may be too easy to "
                "tell versions apart."
            )
        val_size = self.metrics.get("val_size")
        if isinstance(val_size, int) and val_size < SMALL_VALIDATION:
            warnings.append(
                f"Only {val_size} held-out examples: one text changes the score by about "
                f"{100 / max(val_size, 1):.0f} points, so small differences are noise."
            )
        return warnings


class PromotionEvent(models.Model):
    class Kind(models.TextChoices):
        PROMOTE = "promote", "Promoted by the gate"
        OVERRIDE = "override", "Promoted by override"
        ROLLBACK = "rollback", "Rolled back"
        REFUSED = "refused", "Refused"

    name = models.CharField(max_length=100, db_index=True)
    from_version = models.PositiveIntegerField(null=True, blank=True)
    to_version = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reason = models.TextField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name}: {self.kind} v{self.from_version} -> v{self.to_version}"


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    model_name = models.CharField(max_length=100, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    params = models.JSONField(default=dict, blank=True)
    data_snapshot = models.JSONField(default=dict, blank=True)
    progress = models.JSONField(default=dict, blank=True)
    history = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    promote = models.BooleanField(default=True, help_text="Promote through the gate when done")
    promotion_result = models.CharField(max_length=200, blank=True)
    cancel_requested = models.BooleanField(default=False)
    version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.model_name} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class ModelPolicy(models.Model):
    """Staff settings of one model that override its kind's defaults (the gate's tolerance)."""

    name = models.CharField(max_length=100, unique=True)
    tolerance = models.FloatField(
        help_text="How much worse than production the main metric may be and still be promoted"
    )
    form_tolerance = models.FloatField(
        default=0.01,
        help_text="How much accuracy a serving form (int8, ONNX...) may lose against fp32 on the "
        "held-out rows and still serve without being forced",
    )
    note = models.CharField(max_length=300, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(tolerance__gte=0), name="policy_tolerance_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name}: tolerance {self.tolerance}"


# Once a year at least: far beyond, the next due time overflows a date.
SCHEDULE_MAX_HOURS = 24 * 365


class RetrainSchedule(models.Model):
    """Retrain a model every `every_hours`; the beat task starts due runs on the training queue."""

    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True)
    every_hours = models.PositiveIntegerField(default=24)
    params = models.JSONField(default=dict, blank=True)
    promote = models.BooleanField(default=True, help_text="Promote through the gate when done")
    next_run_at = models.DateTimeField()
    last_run = models.ForeignKey(
        TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(every_hours__gte=1), name="schedule_at_least_hourly"
            )
        ]

    def __str__(self) -> str:
        state = f"every {self.every_hours}h" if self.enabled else "paused"
        return f"retrain {self.name} ({state})"


class PredictionStat(models.Model):
    """Serving counters of one model version in one minute, as flushed by one process.

    One row per process and minute means writers never contend for a row; pages sum them.
    """

    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=0, help_text="0: not known to this process")
    minute = models.DateTimeField()
    process = models.CharField(max_length=100)
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    items = models.PositiveIntegerField(default=0)
    latency_sum = models.FloatField(default=0.0)
    latency_buckets = models.JSONField(default=list, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    confidence_buckets = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-minute"]
        indexes = [models.Index(fields=["name", "minute"])]
        constraints = [
            models.UniqueConstraint(
                fields=["name", "version", "minute", "process"], name="uniq_prediction_stat"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} {self.minute:%Y-%m-%d %H:%M} ({self.requests})"


# The apps whose encoder can be adapted: each has `<app>-base` kinds (apps/mlops/adaptation.py).
CORPUS_APPS = (
    ("sentiment", "Financial sentiment"),
    ("support", "Support"),
    ("recommender", "Recommender"),
)


class Corpus(ImportJobBase):
    """An uploaded unlabelled corpus (plain text, JSONL field or CSV column) and its import job.

    Once done, `corpus_path` holds its distinct texts, one a line; `stored` counts them and
    `duplicates` the lines dropped as repeats. Runs refer to it by id, never by path."""

    class Format(models.TextChoices):
        TEXT = "text", "Plain text, one text a line"
        JSONL = "jsonl", "JSONL, one object a line (a field)"
        CSV = "csv", "CSV (a column)"

    app = models.CharField(max_length=20, choices=CORPUS_APPS)
    name = models.CharField(max_length=200)
    format = models.CharField(max_length=10, choices=Format.choices)
    field = models.CharField(max_length=200, blank=True, help_text="the JSONL field or CSV column")
    corpus_path = models.CharField(max_length=500, blank=True, help_text="the stored texts")
    corpus_bytes = models.BigIntegerField(default=0)
    corpus_hash = models.CharField(max_length=64, blank=True)

    class Meta(ImportJobBase.Meta):
        verbose_name_plural = "corpora"
        indexes = [models.Index(fields=["app", "status"])]
