"""Staff pages of the model lifecycle: models, versions, runs, monitoring, and their actions."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.accounts.face import Role, role_required
from mlcore.registry import RegistryError
from mlcore.serving.choice import AUTO, FORMS

from . import selectors, services
from .forms import RunParamsForm, ScheduleForm
from .kinds import ModelKind, kind_get
from .models import ModelVersion, RetrainSchedule, TrainingRun
from .monitoring import monitoring_flush
from .tasks import model_version_optimise_task

ml_admin = role_required(Role.ML_ADMIN)


def _known(name: str) -> None:
    if name not in selectors.model_names():
        raise Http404(f"no model named {name}")


@ml_admin
def model_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "mlops/model_list.html",
        {"models": selectors.model_overview_list(), "runs": selectors.training_runs(limit=15)},
    )


def _kind(name: str) -> ModelKind | None:
    try:
        return kind_get(name)
    except KeyError:
        return None


def _schedule_form(kind: ModelKind, schedule: RetrainSchedule | None) -> ScheduleForm:
    if schedule is None:
        return ScheduleForm(kind=kind)
    return ScheduleForm(
        kind=kind,
        stored=schedule.params if isinstance(schedule.params, dict) else {},
        initial={
            "enabled": schedule.enabled,
            "every_hours": schedule.every_hours,
            "promote": schedule.promote,
        },
    )


def _model_page(
    request: HttpRequest,
    name: str,
    *,
    run_form: RunParamsForm | None = None,
    schedule_form: ScheduleForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The model page; a form that failed is shown again with what was typed and its errors."""
    overview = next(m for m in selectors.model_overview_list() if m["name"] == name)
    versions = selectors.model_versions(name)
    chart = [
        {"version": v.version, "value": v.main_value, "production": v.is_production}
        for v in reversed(versions)
    ]
    schedule = RetrainSchedule.objects.filter(name=name).first()
    kind = _kind(name)
    if kind is not None and kind.train is not None:
        run_form = run_form or RunParamsForm(kind=kind)
        schedule_form = schedule_form or _schedule_form(kind, schedule)
    return render(
        request,
        "mlops/model_detail.html",
        {
            "model": overview,
            "versions": versions,
            "events": selectors.promotion_events(name),
            "runs": selectors.training_runs(name, limit=20),
            "schedule": schedule,
            "run_form": run_form,
            "schedule_form": schedule_form,
            "chart": chart,
        },
        status=status,
    )


@ml_admin
def model_detail(request: HttpRequest, name: str) -> HttpResponse:
    _known(name)
    return _model_page(request, name)


@ml_admin
def version_detail(request: HttpRequest, name: str, version: int) -> HttpResponse:
    report = selectors.version_report(name, version)
    if report is None:
        raise Http404(f"{name} has no version {version}")
    charts = {
        "labels": report["labels"],
        "f1": [row["f1"] for row in report["per_class"]],
        "production_f1": [row["production_f1"] for row in report["per_class"]],
        "history": report["history"],
        "production_version": report["production"].version if report["production"] else None,
    }
    return render(
        request,
        "mlops/version_detail.html",
        {
            "report": report,
            "title": selectors.model_title(name),
            "charts": charts,
            "serving_forms": [*FORMS, AUTO],
        },
    )


@ml_admin
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    payload = selectors.training_run_payload(run_id)
    if payload is None:
        raise Http404("no such run")
    run = TrainingRun.objects.select_related("started_by").get(pk=run_id)
    return render(request, "mlops/run_detail.html", {"run": run, "payload": payload})


@ml_admin
def monitoring(request: HttpRequest, name: str) -> HttpResponse:
    _known(name)
    try:
        minutes = int(request.GET.get("minutes", 60))
    except ValueError:
        minutes = 60
    monitoring_flush()
    summary = selectors.monitoring_summary(name, minutes=minutes)
    return render(
        request,
        "mlops/monitoring.html",
        {
            "name": name,
            "title": selectors.model_title(name),
            "summary": summary,
            "windows": [15, 60, 360, 1440, 10080],
        },
    )


# -- actions ---------------------------------------------------------------------------------------
def _back(name: str) -> HttpResponse:
    return redirect(reverse("mlops:model", args=[name]))


@ml_admin
@require_POST
def run_start(request: HttpRequest, name: str) -> HttpResponse:
    _known(name)
    kind = _kind(name)
    if kind is None or kind.train is None:
        messages.error(request, f"{name} cannot be trained from here.")
        return _back(name)
    form = RunParamsForm(request.POST, kind=kind)
    if not form.is_valid():
        messages.error(request, f"Run not started: {form.error_summary()}")
        return _model_page(request, name, run_form=form, status=400)
    try:
        run = services.training_run_start(
            model_name=name,
            params=form.params_clean,
            user=request.user,
            promote=form.cleaned_data["promote"],
        )
    except (KeyError, ValueError) as exc:
        messages.error(request, str(exc).strip("'\""))
        return _back(name)
    messages.success(request, f"Run {run.pk} queued on the training queue.")
    return redirect(reverse("mlops:run", args=[run.pk]))


@ml_admin
@require_POST
def run_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    if not TrainingRun.objects.filter(pk=run_id).exists():
        raise Http404("no such run")
    if services.training_run_cancel(run_id=run_id):
        messages.success(request, "Cancellation requested; the run stops at its next step.")
    else:
        messages.warning(request, "The run had already ended.")
    return redirect(reverse("mlops:run", args=[run_id]))


def _version_number(request: HttpRequest) -> int | None:
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return None


@ml_admin
@require_POST
def promote(request: HttpRequest, name: str) -> HttpResponse:
    _known(name)
    version = _version_number(request)
    override = request.POST.get("override") == "on"
    reason = request.POST.get("reason", "").strip()
    if version is None:
        messages.error(request, "Choose a version to promote.")
        return _back(name)
    if override and not reason:
        messages.error(request, "An override needs a reason; it is recorded with your name.")
        return _back(name)
    return _move_production(
        request,
        name,
        version,
        lambda: services.model_version_promote(
            name=name, version=version, user=request.user, override=override, reason=reason
        ),
        lambda result: f"v{version} is in production ({result.kind}): {result.message}",
    )


@ml_admin
@require_POST
def rollback(request: HttpRequest, name: str) -> HttpResponse:
    _known(name)
    version = _version_number(request)
    if version is None:
        messages.error(request, "Choose a version to roll back to.")
        return _back(name)
    return _move_production(
        request,
        name,
        version,
        lambda: services.model_version_rollback(
            name=name,
            version=version,
            user=request.user,
            reason=request.POST.get("reason", "").strip(),
        ),
        lambda _result: f"Rolled back to v{version}.",
    )


def _move_production(
    request: HttpRequest,
    name: str,
    version: int,
    move: Callable[[], services.PromotionResult],
    success: Callable[[services.PromotionResult], str],
) -> HttpResponse:
    """Run a promotion or rollback and tell the user what happened on the model page."""
    try:
        result = move()
    except ModelVersion.DoesNotExist:
        messages.error(request, f"{name} has no version {version}.")
        return _back(name)
    except ValueError as exc:
        messages.error(request, str(exc))
        return _back(name)
    if result.promoted:
        messages.success(request, success(result))
    elif result.kind == "noop":
        messages.info(request, result.message)
    else:
        messages.error(request, f"Refused: {result.message}")
    return _back(name)


@ml_admin
@require_POST
def optimise(request: HttpRequest, name: str, version: int) -> HttpResponse:

    if selectors.version_get(name, version) is None:
        raise Http404("no such version")
    transaction.on_commit(lambda: model_version_optimise_task.delay(name, version))
    messages.success(
        request, f"Optimisation of v{version} queued; its numbers appear here when it is done."
    )
    return redirect(reverse("mlops:version", args=[name, version]))


@ml_admin
@require_POST
def serving_form(request: HttpRequest, name: str, version: int) -> HttpResponse:
    if selectors.version_get(name, version) is None:
        raise Http404("no such version")
    try:
        services.model_version_serving_form_set(
            name=name,
            version=version,
            form=request.POST.get("form", ""),
            force=request.POST.get("force") == "on",
        )
    except (ValueError, RegistryError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"v{version} is served as {request.POST.get('form')}.")
    return redirect(reverse("mlops:version", args=[name, version]))


@ml_admin
@require_POST
def policy(request: HttpRequest, name: str) -> HttpResponse:
    _known(name)
    try:
        tolerance = float(request.POST.get("tolerance", ""))
        services.model_policy_set(
            name=name,
            tolerance=tolerance,
            user=request.user,
            note=request.POST.get("note", ""),
        )
    except (ValueError, KeyError) as exc:
        messages.error(request, f"Tolerance not saved: {str(exc).strip(chr(39))}")
    else:
        messages.success(request, f"The gate of {name} now tolerates {tolerance}.")
    return _back(name)


@ml_admin
@require_POST
def schedule(request: HttpRequest, name: str) -> HttpResponse:
    _known(name)
    kind = _kind(name)
    if kind is None or kind.train is None:
        messages.error(request, f"Schedule not saved: {name} cannot be trained from here.")
        return _back(name)
    form = ScheduleForm(request.POST, kind=kind)
    if not form.is_valid():
        messages.error(request, f"Schedule not saved: {form.error_summary()}")
        return _model_page(request, name, schedule_form=form, status=400)
    try:
        services.retrain_schedule_set(
            name=name,
            every_hours=form.cleaned_data["every_hours"],
            enabled=form.cleaned_data["enabled"],
            params=form.params_clean,
            promote=form.cleaned_data["promote"],
            user=request.user,
        )
    except (ValueError, KeyError) as exc:
        messages.error(request, f"Schedule not saved: {str(exc).strip(chr(39))}")
    else:
        messages.success(request, "Retraining schedule saved.")
    return _back(name)
