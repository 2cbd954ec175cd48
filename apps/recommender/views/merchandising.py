"""Merchandiser pages: catalog imports, settings, retraining, experiments."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from apps.accounts.face import Role, role_required
from apps.core.upload_jobs import capped_upload
from apps.mlops import selectors as mlops_selectors

from .. import catalog_import, selectors, services
from ..models import EMBEDDING_MODEL_CHOICES, Event, Experiment, Variant

SETTINGS_LABELS = {
    "feedback_weights": "feedback weights:",
    "exclude_purchased": "never recommend what was bought:",
    "diversity": "diversity",
    "category_cap": "the category cap",
    "trending_half_life_days": "the trending half-life",
    "default_strategy": "default strategy:",
    "embedding_model": "embedding model:",
}


def _settings_from_post(post: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings form's values as numbers, and the fields that are not numbers at all
    (range checks are services.settings_problems', shared with the API and the admin)."""
    # An unticked box is absent from a form post: it means "no".
    values: dict[str, Any] = {"exclude_purchased": post.get("exclude_purchased") == "on"}
    for name in ("default_strategy", "embedding_model"):
        if name in post:
            values[name] = post[name]
    problems: dict[str, str] = {}
    weights: dict[str, float] = {}
    for kind in Event.Kind.values:
        raw = post.get(f"w_{kind}", "").strip()
        if raw:
            try:
                weights[kind] = float(raw)
            except ValueError:
                problems["feedback_weights"] = f"the weight of {kind} must be a number"
    values["feedback_weights"] = weights
    for name, key, parse in (
        ("diversity", "diversity", float),
        ("category_cap", "category_cap", int),
        ("trending_half_life_days", "half_life", float),
    ):
        if key not in post:
            continue  # not on the form that was sent: keep the stored value
        try:
            values[name] = parse(post[key].strip())
        except ValueError:
            problems[name] = "must be a whole number" if parse is int else "must be a number"
    return values, problems


def _settings_shown(current: Any, post: Any = None) -> dict[str, Any]:
    """What the settings form shows: the stored values, or after a refused save what was typed
    (so a merchandiser corrects the one bad field instead of typing everything again)."""
    shown = {
        "weights": current.weights(),
        "exclude_purchased": current.exclude_purchased,
        "diversity": current.diversity,
        "category_cap": current.category_cap,
        "half_life": current.trending_half_life_days,
        "default_strategy": current.default_strategy,
        "embedding_model": current.embedding_model,
    }
    if post is not None:
        shown["weights"] = {
            kind: post.get(f"w_{kind}", weight) for kind, weight in shown["weights"].items()
        }
        shown["exclude_purchased"] = post.get("exclude_purchased") == "on"
        for key in (
            "diversity",
            "category_cap",
            "half_life",
            "default_strategy",
            "embedding_model",
        ):
            shown[key] = post.get(key, shown[key])
    return shown


@role_required(Role.MERCHANDISER)
@capped_upload
def manage(request: HttpRequest) -> HttpResponse:
    result = None
    refused = None
    if request.method == "POST" and request.POST.get("action") == "import":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, "Choose a CSV or JSONL file to import.")
        else:
            assert upload.name is not None  # an uploaded file always carries its name
            fmt = "jsonl" if upload.name.lower().endswith((".jsonl", ".json")) else "csv"
            try:
                job, result = catalog_import.catalog_upload_accept(
                    upload=upload, fmt=fmt, user=request.user
                )
            except catalog_import.ImportRefused as exc:
                messages.error(request, f"Import failed: {exc}")
            else:
                if result is None:  # a large file: follow its job
                    return redirect("recommender:catalog_import", job.pk)
                messages.success(
                    request,
                    f"Imported: {result.created} new, "
                    f"{result.updated} updated, {len(result.errors)} "
                    "rows with errors.",
                )
    elif request.method == "POST" and request.POST.get("action") == "settings":
        values, problems = _settings_from_post(request.POST)
        try:
            if problems:
                raise services.SettingsError(problems)
            services.settings_update(values=values)
            messages.success(request, "Settings saved.")
            return redirect("recommender:manage")
        except services.SettingsError as exc:
            refused = request.POST
            for name, message in exc.errors.items():
                messages.error(request, f"Settings not saved: {SETTINGS_LABELS[name]} {message}.")
    elif request.method == "POST" and request.POST.get("action") == "retrain":
        run = services.retrain_start(user=request.user)
        messages.success(
            request, f"Training run #{run.pk} queued; it is promoted only if NDCG@10 does not drop."
        )
        return redirect("recommender:manage")
    current = selectors.settings_get()
    return render(
        request,
        "recommender/manage.html",
        {
            "result": result,
            "settings": current,
            "shown": _settings_shown(current, refused),
            "strategies": Variant.STRATEGIES,
            "embedding_models": EMBEDDING_MODEL_CHOICES,
            **selectors.catalog_counts(),
            "versions": mlops_selectors.model_versions(services.MODEL_NAME)[:5],
        },
    )


@role_required(Role.MERCHANDISER)
def experiments(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        variants = []
        for n in range(1, 5):
            name = request.POST.get(f"v{n}_name", "").strip()
            if name:
                variants.append(
                    {
                        "name": name,
                        "strategy": request.POST.get(f"v{n}_strategy", "ranker"),
                        "weight": request.POST.get(f"v{n}_weight", "1") or "1",
                        "diversity": request.POST.get(f"v{n}_diversity", ""),
                    }
                )
        try:
            experiment = services.experiment_create(
                name=request.POST.get("name", ""),
                description=request.POST.get("description", ""),
                variants=variants,
            )
            messages.success(request, f"Experiment {experiment} created (draft).")
            return redirect("recommender:experiment", experiment.pk)
        except ValueError as exc:
            messages.error(request, str(exc))
    return render(
        request,
        "recommender/experiments.html",
        {
            "experiments": Experiment.objects.prefetch_related("variants"),
            "strategies": Variant.STRATEGIES,
            "slots": range(1, 5),
        },
    )


@role_required(Role.MERCHANDISER)
def experiment_detail(request: HttpRequest, experiment_id: int) -> HttpResponse:
    experiment = get_object_or_404(Experiment, pk=experiment_id)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "start":
                services.experiment_start(experiment_id=experiment.pk)
            elif action == "stop":
                services.experiment_stop(experiment_id=experiment.pk)
            elif action == "ship":
                services.experiment_ship(
                    experiment_id=experiment.pk, variant=request.POST.get("variant", "")
                )
            else:
                raise ValueError("unknown action")
            messages.success(request, f"Experiment {action}: done.")
        except ValueError as exc:
            messages.error(request, str(exc))
        return redirect("recommender:experiment", experiment.pk)
    rows = selectors.experiment_report(experiment=experiment)
    return render(
        request,
        "recommender/experiment.html",
        {
            "experiment": experiment,
            "rows": rows,
            "chart": {
                "labels": [r.name for r in rows],
                "ctr": [round(r.ctr * 100, 2) for r in rows],
                "ctr_low": [round(r.ctr_low * 100, 2) for r in rows],
                "ctr_high": [round(r.ctr_high * 100, 2) for r in rows],
            },
        },
    )


@role_required(Role.MERCHANDISER)
def catalog_import_page(request: HttpRequest, job_id: int) -> HttpResponse:
    """A catalog import's progress; while it runs, the card asks again every 2 s (htmx)."""
    job = catalog_import.catalog_import_get(job_id=job_id)
    if job is None:
        raise Http404("no such catalog import")
    fragment = bool(request.headers.get("HX-Request"))
    template = "recommender/_catalog_import.html" if fragment else "recommender/catalog_import.html"
    return render(request, template, {"job": job})
