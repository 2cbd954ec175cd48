"""Forms of the staff pages: knowledge base settings, business hours and the review of draft
FAQ pairs."""

from __future__ import annotations

from typing import Any

from django import forms

from .hours import DAY_NAMES, WEEKDAYS, HoursInvalid, holidays_parse, ranges_text, time_zone_get
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


class BusinessHoursForm(forms.Form):
    """A knowledge base's business hours: a time zone, each weekday's ranges as
    "09:00-12:00, 13:00-17:00" (empty: closed; "22:00-02:00" runs overnight) and holidays, one
    date a line. Every field is checked, and each error names the day or date it is about."""

    time_zone = forms.CharField(
        max_length=64,
        help_text="e.g. Europe/London, America/New_York or UTC. The hours below are local "
        "times there, daylight saving included.",
    )
    holidays = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "2026-12-25\n2026-12-26"}),
        help_text="Closed all day: one date a line, year-month-day.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for day, name in zip(WEEKDAYS, DAY_NAMES, strict=True):
            self.fields[day] = forms.CharField(
                label=name,
                required=False,
                max_length=200,
                widget=forms.TextInput(attrs={"placeholder": "09:00-17:00"}),
            )
        self.fields["mon"].help_text = (
            "Ranges separated by commas, e.g. 09:00-12:00, 13:00-17:00; empty: closed that day. "
            "Leave every day empty for always open."
        )
        self.order_fields(["time_zone", *WEEKDAYS, "holidays"])

    @classmethod
    def initial_of(cls, kb: KnowledgeBase) -> dict[str, Any]:
        hours = kb.opening_hours or {}
        initial: dict[str, Any] = {day: ", ".join(hours.get(day, [])) for day in WEEKDAYS}
        initial["time_zone"] = kb.time_zone
        initial["holidays"] = "\n".join(kb.holidays or [])
        return initial

    def clean_time_zone(self) -> str:
        name: str = self.cleaned_data["time_zone"].strip()
        try:
            time_zone_get(name)
        except HoursInvalid as exc:
            raise forms.ValidationError(str(exc)) from exc
        return name

    def clean_holidays(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["holidays"].splitlines()]
        try:
            days = holidays_parse(lines)
        except HoursInvalid as exc:
            raise forms.ValidationError(str(exc)) from exc
        return sorted(day.isoformat() for day in days)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for day, name in zip(WEEKDAYS, DAY_NAMES, strict=True):
            if day not in data:
                continue
            try:
                data[day] = ranges_text(data[day] or "", day=name)
            except HoursInvalid as exc:
                self.add_error(day, str(exc))
        return data

    def hours_values(self) -> dict[str, Any]:
        """The cleaned form as `knowledge_base_hours_update` takes it."""
        data = self.cleaned_data
        return {
            "time_zone": data["time_zone"],
            "opening_hours": {day: data[day] for day in WEEKDAYS if data.get(day)},
            "holidays": data["holidays"],
        }
