"""The analysts' training data page: import labelled sets, list and delete them."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.face import Role, role_required, user_has_role
from apps.core.upload_jobs import capped_upload
from apps.mlops import services as mlops_services

from . import imports, training_data
from .models import ImportJob
from .training import MODEL_NAME
from .uploads import UploadError

analyst_only = role_required(Role.ANALYST)
ml_admin_only = role_required(Role.ML_ADMIN)


class LabelledSetForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, help_text="defaults to the file name")
    file = forms.FileField(
        help_text="CSV with sentence,label columns, or PhraseBank text: one sentence@label a line"
    )


@analyst_only
@capped_upload
def training_data_page(request: HttpRequest) -> HttpResponse:
    form = LabelledSetForm(request.POST or None, request.FILES or None)
    result = None
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            accepted = imports.upload_accept(
                upload=form.cleaned_data["file"],
                kind=ImportJob.Kind.LABELLED_SET,
                user=request.user,
                name=form.cleaned_data["name"],
            )
        except UploadError as exc:
            form.add_error("file", str(exc))
            status = 400
        else:
            if isinstance(accepted, ImportJob):  # a large file: follow its job
                return redirect("sentiment:import_job", accepted.pk)
            result = training_data.LabelledSetImport(
                accepted.labelled_set, accepted.sentences, accepted.job.duplicates, accepted.errors
            )
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
            "can_train": user_has_role(request.user, Role.ML_ADMIN),
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


@analyst_only
@ml_admin_only
@require_POST
def training_run_start(request: HttpRequest) -> HttpResponse:
    """Queue a sentiment training run on the chosen sets (and, if ticked, the corrections)."""

    chosen = request.POST.getlist("sets")
    try:
        set_ids = sorted({int(value) for value in chosen})
    except ValueError:
        messages.error(request, "Pick sets from the list.")
        return redirect("sentiment:training_data")
    known = set(training_data.labelled_set_list().values_list("pk", flat=True))
    missing = [i for i in set_ids if i not in known]
    if missing:
        messages.error(request, f"No labelled set {', '.join(map(str, missing))} (deleted?).")
        return redirect("sentiment:training_data")
    run = mlops_services.training_run_start(
        model_name=MODEL_NAME,
        params={
            "sets": set_ids or "none",
            "include_corrections": request.POST.get("include_corrections") == "on",
        },
        user=request.user,
        promote=request.POST.get("promote") == "on",
    )
    messages.success(request, f"Training run {run.pk} queued on the training queue.")
    return redirect("mlops:run", run.pk)
