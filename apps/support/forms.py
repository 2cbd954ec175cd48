"""Forms of the staff pages: knowledge base settings and the review of draft FAQ pairs."""

from __future__ import annotations

from typing import Any

from django import forms

from .models import FAQ, KnowledgeBase, LlmEndpoint


def _unit_interval(label: str, help_text: str) -> forms.FloatField:
    return forms.FloatField(
        label=label,
        min_value=0.0,
        max_value=1.0,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "1"}),
        error_messages={"invalid": "Enter a number from 0 to 1, e.g. 0.45."},
    )


class KnowledgeBaseSettingsForm(forms.Form):
    """The per-KB answer settings. A plain form (not a ModelForm), so a refused submission
    never touches the instance the page shows as the current settings."""

    handoff_threshold = _unit_interval(
        "Handoff threshold",
        "Below this calibrated confidence the bot hands the conversation to an agent.",
    )
    faq_threshold = _unit_interval(
        "FAQ threshold",
        "Intent probability from which a matching published FAQ answer is sent as is.",
    )
    answer_mode = forms.ChoiceField(choices=KnowledgeBase.AnswerMode.choices)
    llm_endpoint = forms.ModelChoiceField(
        label="LLM endpoint",
        queryset=LlmEndpoint.objects.all(),
        required=False,
        empty_label="Server default (LLM_BASE_URL, else the local SmolLM2 model)",
        help_text="Where generated answers come from; administrators keep this list.",
    )
    llm_model = forms.CharField(label="LLM model", required=False, max_length=120)
    greeting = forms.CharField(max_length=300, widget=forms.Textarea(attrs={"rows": 2}), strip=True)

    @classmethod
    def initial_of(cls, kb: KnowledgeBase) -> dict[str, Any]:
        return {name: getattr(kb, name) for name in cls.base_fields}


class FAQReviewForm(forms.Form):
    question = forms.CharField(max_length=500)
    answer = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))
    intent = forms.CharField(
        max_length=100,
        required=False,
        help_text="The bot sends this answer by itself only for questions of this intent.",
    )
    replace_current = forms.BooleanField(
        required=False,
        label="If a pair is already published for this intent, answer with this one instead "
        "(the other goes back to the drafts)",
    )

    def __init__(self, *args: Any, faq: FAQ, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"faq-{faq.pk}")
        kwargs.setdefault(
            "initial", {"question": faq.question, "answer": faq.answer, "intent": faq.intent}
        )
        super().__init__(*args, **kwargs)
        self.faq = faq
        self.fields["intent"].widget.attrs["list"] = "known-intents"
