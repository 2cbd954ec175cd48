"""The forms of the sentiment admin: the page's rules plus what only the admin edits, each
checked by the service that will store it."""

from __future__ import annotations

from typing import Any

from django import forms

from . import services
from .forms import RuleForm
from .models import Alert, Document


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV with a header row, or JSONL")


class DocumentAdminForm(forms.ModelForm):
    class Meta:
        model = Document
        fields = list(services.DOCUMENT_FIELDS)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk is not None:
            values = {name: data[name] for name in services.DOCUMENT_FIELDS if name in data}
            problem = services.document_edit_problem(document_id=self.instance.pk, values=values)
            if problem:
                raise forms.ValidationError(problem)
        return data


class RuleAdminForm(RuleForm):
    """The page's checks (threshold in its metric's range, window, sensitivity, cooldown), plus
    the owner, which the page takes from the signed-in analyst."""

    class Meta(RuleForm.Meta):
        fields = ["owner", *RuleForm.Meta.fields]
        widgets: dict[str, Any] = {}  # the admin's filter_horizontal picks the companies


class AlertAdminForm(forms.ModelForm):
    class Meta:
        model = Alert
        fields = ["status"]

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        if status == Alert.Status.OPEN and self.instance.status != Alert.Status.OPEN:
            raise forms.ValidationError("an alert is not reopened; the next episode opens anew")
        return str(status)


# The status an admin picks -> the service's action (which stamps who and when, and tells the
# open dashboards).
ALERT_ACTIONS: dict[str, str] = {
    Alert.Status.ACKNOWLEDGED: "acknowledge",
    Alert.Status.RESOLVED: "resolve",
}
