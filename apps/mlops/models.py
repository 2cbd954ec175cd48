from django.conf import settings
from django.db import models


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
    optimisation = models.JSONField(default=dict, blank=True)
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
