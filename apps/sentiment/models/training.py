"""What trains the next model: analysts' corrections, imported labelled sets, import jobs."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.upload_jobs import ImportJobBase

from .documents import Document


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


class TopicCorrection(models.Model):
    """An analyst's topics for a scored text: applied to the text at once (its score's topics and
    the topic trends), and a training example of the topic classifier (topic_model.py)."""

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="topic_corrections"
    )
    text = models.TextField(help_text="the text as corrected (the classifier's example)")
    predicted = models.JSONField(default=list, blank=True)
    topics = models.JSONField(default=list, blank=True, help_text="the analyst's topics")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.predicted} -> {self.topics}: {self.text[:60]}"


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


class ImportJob(ImportJobBase):
    """An uploaded file of documents or labelled sentences being ingested (see upload_jobs)."""

    class Kind(models.TextChoices):
        DOCUMENTS = "documents"
        LABELLED_SET = "labelled_set"

    kind = models.CharField(max_length=20, choices=Kind.choices)

    class Meta(ImportJobBase.Meta):
        indexes = [models.Index(fields=["status", "updated_at"])]
