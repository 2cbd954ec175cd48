"""The analysts' training data page: import labelled sets, list and delete them."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.models import Role
from apps.accounts.roles import role_required

from . import training_data
from .uploads import UploadError

analyst_only = role_required(Role.ANALYST)


class LabelledSetForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, help_text="defaults to the file name")
    file = forms.FileField(
        help_text="CSV with sentence,label columns, or PhraseBank text: one sentence@label a line"
    )


@analyst_only
def training_data_page(request: HttpRequest) -> HttpResponse:
    form = LabelledSetForm(request.POST or None, request.FILES or None)
    result = None
    status = 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = training_data.labelled_set_import(
                name=form.cleaned_data["name"],
                data=upload.read(),
                filename=upload.name,
                user=request.user,
            )
        except UploadError as exc:
            form.add_error("file", str(exc))
            status = 400
        else:
            if result.labelled_set is None:
                status = 400
            else:
                form = LabelledSetForm()
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "sentiment/training_data.html",
        {
            "form": form,
            "result": result,
            "sets": training_data.labelled_set_list(),
            "corrections": training_data.correction_counts(),
        },
        status=status,
    )


@analyst_only
@require_POST
def labelled_set_delete(request: HttpRequest, pk: int) -> HttpResponse:
    if not training_data.labelled_set_delete(set_id=pk):
        raise Http404("no such labelled set")
    messages.success(request, "Labelled set deleted; later training runs leave it out.")
    return redirect("sentiment:training_data")
