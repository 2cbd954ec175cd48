"""Admin forms: each checks its input with the same service code the API and the pages use, and
shows what is wrong next to the field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from . import services
from .models import Experiment, Item, RecommenderSettings, Variant


class ItemAdminForm(forms.ModelForm):
    class Meta:
        model = Item
        fields = list(services.ITEM_FIELDS)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            try:
                services.item_clean({name: cleaned.get(name) for name in services.ITEM_FIELDS})
            except services.ItemRowError as exc:
                self.add_error(exc.field if exc.field in self.fields else None, str(exc))
        return cleaned


class RecommenderSettingsForm(forms.ModelForm):
    # Plain fields: the bounds and their messages come from services.settings_problems alone.
    diversity = forms.FloatField(help_text="0 = pure relevance, 1 = variety only")
    category_cap = forms.IntegerField(
        help_text=f"Most items of one category per list: 0 (no cap) to {services.CATEGORY_CAP_MAX}"
    )
    trending_half_life_days = forms.FloatField(
        help_text="Days, {:g} to {:g}".format(*services.HALF_LIFE_DAYS)
    )
    default_strategy = forms.ChoiceField(choices=Variant.STRATEGIES)

    class Meta:
        model = RecommenderSettings
        fields = list(services.SETTINGS_FIELDS)
        help_texts = {
            "feedback_weights": (
                'Event kind to weight, e.g. {"purchase": 5, "view": 1}; kinds left out keep '
                f"their defaults. Weights from 0 to {services.WEIGHT_MAX:g}."
            )
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        given = {name: cleaned[name] for name in services.SETTINGS_FIELDS if name in cleaned}
        if given.get("feedback_weights") is None and "feedback_weights" in given:
            given["feedback_weights"] = {}  # an empty box: every kind keeps its default
        for name, message in services.settings_problems(values=given).items():
            self.add_error(name, message)
        return {**cleaned, **given}


class VariantFormSet(forms.BaseInlineFormSet):
    """The variants of a draft are checked as a whole, like a new experiment's."""

    def clean(self) -> None:
        super().clean()
        experiment = self.instance
        if any(self.errors) or experiment.status != Experiment.Status.DRAFT:
            return  # field errors are shown first; a started experiment's rows are read-only
        rows = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        try:
            services.variants_clean(variants=rows)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
