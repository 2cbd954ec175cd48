"""The Corpora page (ML admins): upload an unlabelled corpus for an app, follow its import,
see each corpus's lines, size and hash, and remove one. Runs pick them by id (Models page)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.accounts.face import Role, role_required
from apps.core.upload_jobs import capped_upload

from . import corpora
from .corpus_files import FORMATS, CorpusFileError
from .models import CORPUS_APPS

ml_admin = role_required(Role.ML_ADMIN)


class CorpusUploadForm(forms.Form):
    file = forms.FileField(
        allow_empty_file=True,
        help_text="Plain text (one text a line), JSONL (one object a line) or CSV with a header.",
    )
    app = forms.ChoiceField(choices=CORPUS_APPS, help_text="The app whose encoder it adapts.")
    name = forms.CharField(max_length=200, required=False, help_text="Default: the file name.")
    format = forms.ChoiceField(
        choices=[("", "From the file name (.txt, .jsonl, .csv)")] + [(f, f) for f in FORMATS],
        required=False,
    )
    field = forms.CharField(
        max_length=200,
        required=False,
        label="JSONL field or CSV column",
        help_text="Default: text.",
    )
    encoding = forms.CharField(
        max_length=40,
        required=False,
        help_text="Default: detected (UTF-8 with or without BOM, GB18030, UTF-16, cp1252).",
    )


@ml_admin
@capped_upload
def corpora_page(request: HttpRequest) -> HttpResponse:
    form = CorpusUploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                corpus = corpora.corpus_upload_accept(
                    upload=data["file"],
                    app=data["app"],
                    name=data["name"],
                    fmt=data["format"],
                    field=data["field"],
                    encoding=data["encoding"],
                    user=request.user,
                )
            except CorpusFileError as exc:
                form.add_error("file", f"{exc}. Nothing was stored.")
                status = 400
            else:
                done = "imported" if corpus.finished else "queued for import"
                messages.success(request, f"Corpus #{corpus.pk} {corpus.name} {done}.")
                return redirect(reverse("mlops:corpora"))
        else:
            status = 400
    app = request.GET.get("app", "")
    rows = corpora.corpora_list(app=app if app in dict(CORPUS_APPS) else "")
    context = {"form": form, "corpora": rows, "apps": CORPUS_APPS, "app": app}
    return render(request, "mlops/corpora.html", context, status=status)


@ml_admin
def corpus_page(request: HttpRequest, pk: int) -> HttpResponse:
    """One corpus's import; while it runs, the card asks again every two seconds (htmx)."""
    corpus = corpora.corpus_get(corpus_id=pk)
    if corpus is None:
        raise Http404("no such corpus")
    fragment = bool(request.headers.get("HX-Request"))
    template = "mlops/_corpus.html" if fragment else "mlops/corpus.html"
    return render(request, template, {"corpus": corpus})


@ml_admin
@require_POST
def corpus_delete(request: HttpRequest, pk: int) -> HttpResponse:
    if corpora.corpus_get(corpus_id=pk) is None:
        raise Http404("no such corpus")
    try:
        corpora.corpus_delete(corpus_id=pk)
    except corpora.CorpusBusy as exc:
        messages.error(request, str(exc))
        return redirect(reverse("mlops:corpus", args=[pk]))
    messages.success(request, f"Corpus #{pk} removed.")
    return redirect(reverse("mlops:corpora"))
