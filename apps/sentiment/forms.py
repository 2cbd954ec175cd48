from __future__ import annotations

from typing import Any

from django import forms

from . import services
from .feeds import FeedError, feed_url_check
from .models import AlertRule, Entity, Source
from .spikes import MAX_COOLDOWN_HOURS, threshold_problem
from .text import TOPICS, ticker_normalise
from .uploads import LABELS


class EntityForm(forms.ModelForm):
    aliases_text = forms.CharField(
        required=False, label="Aliases", help_text="comma separated, e.g. Acme, Acme Inc"
    )

    class Meta:
        model = Entity
        fields = ["name", "ticker", "ticker_needs_context", "active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["aliases_text"].initial = ", ".join(self.instance.aliases or [])

    def clean_ticker(self) -> str:
        try:
            return ticker_normalise(self.cleaned_data["ticker"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def save(self, commit: bool = True) -> Entity:
        """Saves through services.entity_upsert, like the API. With commit=False (the admin) it
        only builds the instance; EntityAdmin.save_model then calls save()."""
        data = self.cleaned_data
        aliases = [a.strip() for a in data["aliases_text"].split(",") if a.strip()]
        if not commit:
            entity: Entity = super().save(commit=False)
            entity.aliases = aliases
            return entity
        # An unticked box on a new or changed ticker means "decide for me" (AI, ALL, NOW need
        # context); on an edit that keeps the ticker it is the analyst's choice.
        ticker_decided = self.instance.pk is not None and "ticker" not in self.changed_data
        needs_context = data["ticker_needs_context"] or (False if ticker_decided else None)
        entity = services.entity_upsert(
            entity_id=self.instance.pk,
            name=data["name"],
            ticker=data["ticker"],
            aliases=aliases,
            ticker_needs_context=needs_context,
            active=data["active"],
        )
        self.instance = entity
        return entity


class RuleForm(forms.ModelForm):
    topics = forms.MultipleChoiceField(
        choices=[(k, label) for k, (label, _w) in TOPICS.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = AlertRule
        fields = list(services.RULE_FIELDS)
        # Tick boxes, not a ctrl-click multi-select that one stray click empties.
        widgets = {"entities": forms.CheckboxSelectMultiple}
        help_texts = {
            "threshold": "threshold mode: a share 0-1 for negative share (0.4 = 40%), a mean "
            "sentiment -1 to +1 that fires at or below it, or a number of texts",
            "entities": "none and no topics = the whole watchlist",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("mode") == AlertRule.Mode.THRESHOLD and data.get("threshold") is None:
            self.add_error("threshold", "threshold mode needs a threshold")
        elif data.get("mode") == AlertRule.Mode.THRESHOLD and data.get("metric"):
            problem = threshold_problem(data["metric"], data["threshold"])
            if problem:
                self.add_error("threshold", f"for {data['metric']} use {problem}")
        if data.get("window_hours") is not None and not 1 <= data["window_hours"] <= 168:
            self.add_error("window_hours", "between 1 and 168 hours")
        if data.get("sensitivity") is not None and data["sensitivity"] <= 0:
            self.add_error("sensitivity", "must be above 0")
        if data.get("cooldown_hours") is not None and data["cooldown_hours"] > MAX_COOLDOWN_HOURS:
            self.add_error("cooldown_hours", f"at most {MAX_COOLDOWN_HOURS} hours (a year)")
        return data


class SourceForm(forms.ModelForm):
    class Meta:
        model = Source
        fields = ["name", "kind", "url", "language", "poll_interval_s", "embedding_model"]
        labels = {
            "url": "Feed address (RSS or Atom)",
            "poll_interval_s": "Check the feed every (seconds, at least 60)",
            "embedding_model": "Topic embedder",
        }

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        if url and "url" in self.changed_data:  # e.g. the demo's bundled file:// feed stays
            try:
                url = feed_url_check(url)
            except FeedError as exc:
                raise forms.ValidationError(str(exc)) from None
        return url

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") in (Source.Kind.RSS, Source.Kind.ATOM) and not data.get("url"):
            self.add_error("url", "a feed source needs a URL")
        if (data.get("poll_interval_s") or 60) < 60:
            self.add_error("poll_interval_s", "poll at most once a minute")
        return data


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV with a header row or JSONL, one document per line")
    source = forms.CharField(max_length=200, initial="Uploads")


class CorrectionForm(forms.Form):
    label = forms.ChoiceField(choices=[(x, x) for x in LABELS])
    sentence = forms.CharField(required=False, widget=forms.HiddenInput)
