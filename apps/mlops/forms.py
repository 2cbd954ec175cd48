"""The "start a run" and "scheduled retraining" forms, built from the model kind's parameters.

Each described parameter gets a field; the JSON box takes anything else and wins over the
fields. Values are checked by `params_validate`, the same code the API uses, and its messages
are shown next to the field the value came from.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms

from .kinds import ModelKind, ParamSpec
from .models import SCHEDULE_MAX_HOURS
from .params import SETS_ALL, ParamsInvalid, params_validate

FIELD_PREFIX = "p_"
JSON_FIELD = "params"


class _AnyChoiceField(forms.ChoiceField):
    """Offers the choices but leaves checking them to `params_validate` (one message for all)."""

    def valid_value(self, value: Any) -> bool:
        return True


class _AnyMultipleChoiceField(forms.MultipleChoiceField):
    def valid_value(self, value: Any) -> bool:
        return True


_CHECKBOX = forms.CheckboxInput(attrs={"class": "check"})


def _number_attrs(spec: ParamSpec) -> dict[str, Any]:
    attrs: dict[str, Any] = {"step": "1" if spec.type == "int" else "any"}
    if spec.default is not None:
        attrs["placeholder"] = f"{spec.default:g}" if spec.type == "float" else spec.default
    if spec.minimum is not None:
        attrs["min"] = spec.minimum if spec.type == "float" else int(spec.minimum)
    if spec.maximum is not None:
        attrs["max"] = spec.maximum if spec.type == "float" else int(spec.maximum)
    return attrs


def _field(spec: ParamSpec) -> forms.Field:
    """A form field that hands the typed value over unconverted: params_validate converts it."""
    help_text = spec.help
    if spec.default is not None and spec.type not in ("bool", "ids"):
        help_text = f"{help_text} Default: {spec.default}.".strip()
    common: dict[str, Any] = {"required": False, "label": spec.title, "help_text": help_text}
    if spec.type in ("int", "float"):
        return forms.CharField(widget=forms.NumberInput(attrs=_number_attrs(spec)), **common)
    if spec.type == "bool":
        return forms.BooleanField(initial=bool(spec.default), widget=_CHECKBOX, **common)
    if spec.type == "choice":
        options = spec.choices() if spec.choices else []
        default = [("", "Default (all)" if spec.default is None else f"Default ({spec.default})")]
        return _AnyChoiceField(choices=default + [(str(v), t) for v, t in options], **common)
    if spec.type == "ids":
        options = [(str(v), t) for v, t in (spec.choices() if spec.choices else [])]
        if spec.default == SETS_ALL:
            options.insert(0, (SETS_ALL, "All of them, also ones imported later"))
        return _AnyMultipleChoiceField(
            choices=options,
            widget=forms.CheckboxSelectMultiple(attrs={"class": "check"}),
            initial=[SETS_ALL] if spec.default == SETS_ALL else [],
            **common,
        )
    placeholder = "" if spec.default is None else str(spec.default)
    return forms.CharField(widget=forms.TextInput(attrs={"placeholder": placeholder}), **common)


def _initial(spec: ParamSpec, value: Any) -> Any:
    """A stored parameter value as its field shows it (a saved schedule's parameters)."""
    if spec.type == "ids":
        if value == SETS_ALL:
            return [SETS_ALL]
        return [str(v) for v in value] if isinstance(value, list | tuple) else []
    if spec.type == "bool":
        return bool(value)
    return "" if value is None else str(value)


class RunParamsForm(forms.Form):
    """The parameters of one run; `params_clean` holds the checked dict once the form is valid."""

    params = forms.CharField(
        required=False,
        label="More parameters (JSON)",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": '{"seed": 7}'}),
    )
    promote = forms.BooleanField(
        required=False, initial=True, label="Promote through the gate when done", widget=_CHECKBOX
    )
    id_prefix = "run"

    def __init__(
        self, *args: Any, kind: ModelKind, stored: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        # Both forms share one page and their field names: distinct ids keep labels apart.
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.specs = kind.params or ()
        self.params_clean: dict[str, Any] = {}
        for spec in self.specs:
            self.fields[FIELD_PREFIX + spec.name] = _field(spec)
        if stored is not None:
            self._fill(stored)

    def _fill(self, stored: dict[str, Any]) -> None:
        described = {spec.name: spec for spec in self.specs}
        rest = {}
        for name, value in stored.items():
            if name in described:
                self.initial[FIELD_PREFIX + name] = _initial(described[name], value)
            else:
                rest[name] = value
        self.initial[JSON_FIELD] = json.dumps(rest) if rest else ""

    def basic_fields(self) -> list[forms.BoundField]:
        return [self[FIELD_PREFIX + s.name] for s in self.specs if not s.advanced]

    def advanced_fields(self) -> list[forms.BoundField]:
        return [self[FIELD_PREFIX + s.name] for s in self.specs if s.advanced]

    @property
    def advanced_open(self) -> bool:
        """Unfold the advanced part when it holds an error or a value."""
        if not self.specs:
            return True
        names = [JSON_FIELD] + [FIELD_PREFIX + s.name for s in self.specs if s.advanced]
        if any(self[name].errors for name in names):
            return True
        return any(self[name].value() not in (None, "", False, []) for name in names)

    def _from_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        """Parameters the fields set; an empty field (or every set ticked) means the default."""
        values: dict[str, Any] = {}
        for spec in self.specs:
            value = data.get(FIELD_PREFIX + spec.name)
            if spec.type == "ids":
                value = SETS_ALL if SETS_ALL in (value or []) else list(value or [])
                # Nothing ticked for a list without a default (uploaded corpora): none given.
                if value == spec.default or (spec.default is None and not value):
                    continue
            elif spec.type == "bool":
                # A box left as its default says nothing; one changed from it is recorded.
                if bool(value) == bool(spec.default):
                    continue
            elif value in (None, ""):
                continue
            values[spec.name] = value
        return values

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw = (data.get(JSON_FIELD) or "").strip() or "{}"
        try:
            extra = json.loads(raw)
        except json.JSONDecodeError as exc:
            self.add_error(JSON_FIELD, f"The parameters are not valid JSON: {exc}")
            return data
        if not isinstance(extra, dict):
            self.add_error(JSON_FIELD, 'The parameters must be a JSON object, e.g. {"epochs": 2}')
            return data
        fields = self._from_fields(data)
        try:
            self.params_clean = params_validate(self.kind, {**fields, **extra})
        except ParamsInvalid as exc:
            for name, message in exc.errors.items():
                if name in fields and name not in extra:
                    self.add_error(FIELD_PREFIX + name, message)
                else:
                    self.add_error(JSON_FIELD, f"{name}: {message}")
        return data

    def error_summary(self) -> str:
        """Every error on one line, for the message at the top of the page."""
        parts: list[str] = []
        for field, messages in self.errors.items():
            for message in messages:
                named = field in (JSON_FIELD, "__all__")
                parts.append(str(message) if named else f"{self._label(field)}: {message}")
        return "; ".join(parts)

    def _label(self, field: str) -> str:
        return str(self.fields[field].label) if field in self.fields else field


class ScheduleForm(RunParamsForm):
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled", widget=_CHECKBOX)
    every_hours = forms.IntegerField(
        min_value=1,
        max_value=SCHEDULE_MAX_HOURS,
        initial=24,
        label="Every (hours)",
        error_messages={
            "min_value": "retrain at most once an hour",
            "max_value": f"retrain at least once a year (at most {SCHEDULE_MAX_HOURS} hours)",
        },
    )
    id_prefix = "schedule"
