"""Analyst pages: dashboard, feed, alerts, watchlist, rules, sources, upload; email links."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from django.contrib import messages
from django.core import signing
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from apps.accounts.face import Role, User, role_required
from apps.core.upload_jobs import capped_upload

from . import imports, realtime, selectors, services
from .feed_filters import feed_filters, row_id
from .forms import CorrectionForm, EntityForm, RuleForm, SourceForm, UploadForm
from .models import Alert, AlertRule, Document, Entity, ImportJob, Source
from .text import TOPICS
from .uploads import UploadError

analyst_only = role_required(Role.ANALYST)
DASHBOARD_ALERTS = 20
# The page asks about the rows it shows; it never sends more ids than this (see dashboard.js).
SHOWN_ALERTS_MAX = 100
ALERTS_PER_PAGE = 50


def _dashboard_alerts(request: HttpRequest) -> QuerySet[Alert]:
    alerts = selectors.alert_list(user=request.user)
    return alerts.exclude(status=Alert.Status.RESOLVED)[:DASHBOARD_ALERTS]


def _subject_choices(subject: str) -> list[tuple[str, str, str]]:
    """The chart picker's subjects; a company set inactive stays pickable when it is the one
    asked for (the watchlist links every company), instead of the picker showing another."""
    choices = selectors.subject_choices()
    kind, _, key = subject.partition(":")
    if kind == "entity" and (kind, key) not in {(c[0], c[1]) for c in choices}:
        entity_id = row_id(key)
        entity = Entity.objects.filter(pk=entity_id).first() if entity_id else None
        if entity is not None:
            choices.insert(1, (kind, key, f"{entity} (inactive)"))
    return choices


@analyst_only
def dashboard(request: HttpRequest) -> HttpResponse:
    subject = request.GET.get("subject", "all")
    problem = ""
    try:
        filters = feed_filters(request.GET)  # the form shows them, so its polls keep them
    except ValueError as exc:
        problem = str(exc)
        messages.error(request, f"The feed shows every time: {problem}.")
        filters = feed_filters(request.GET, with_window=False)
    return render(
        request,
        "sentiment/dashboard.html",
        {
            "subject": subject,
            "subjects": _subject_choices(subject),
            "alerts": _dashboard_alerts(request),
            "unresolved_count": selectors.alert_list(user=request.user)
            .exclude(status=Alert.Status.RESOLVED)
            .count(),
            "entities": Entity.objects.filter(active=True),
            "topics": [(k, label) for k, (label, _w) in TOPICS.items()],
            "labels": ["negative", "neutral", "positive"],
            "sources": Source.objects.all(),
            "documents": selectors.document_feed(**filters)[:30],
            "filters": filters,
            "window": request.GET.get("window", "") if not problem else "",
            "failing_sources": Source.objects.filter(status=Source.Status.FAILING),
        },
        status=400 if problem else 200,
    )


@analyst_only
def feed(request: HttpRequest) -> HttpResponse:
    try:
        filters = feed_filters(request.GET)
    except ValueError as exc:
        return HttpResponse(f"Bad filter: {exc}.", status=400, content_type="text/plain")
    return render(
        request,
        "sentiment/_feed.html",
        {"documents": selectors.document_feed(**filters)[:30]},
    )


@analyst_only
def alert_feed(request: HttpRequest) -> JsonResponse:
    """The dashboard's alert list as alert events, newest first: how the page catches up.

    `?shown=<id>` (repeatable) adds the current state of alerts the page still shows, so a row
    resolved elsewhere turns resolved there too; an id that is not returned no longer exists.
    """
    shown = {
        int(v)
        for v in request.GET.getlist("shown")[:SHOWN_ALERTS_MAX]
        if v.isascii() and v.isdigit() and len(v) < 16  # ids only: no "²", nothing overflowing
    }
    alerts = list(_dashboard_alerts(request))
    shown -= {alert.pk for alert in alerts}
    if shown:
        alerts += selectors.alert_list(user=request.user).filter(pk__in=shown)
    alerts.sort(key=lambda alert: (alert.created_at, alert.pk), reverse=True)
    return JsonResponse({"alerts": [realtime.alert_event(alert) for alert in alerts]})


@analyst_only
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    doc = get_object_or_404(Document.objects.select_related("source", "score"), pk=pk)
    if request.method == "POST" and "topics_form" in request.POST:
        try:
            services.topic_correction_create(
                document_id=doc.pk, topics=request.POST.getlist("topics"), user=request.user
            )
        except ValueError as exc:
            messages.error(request, f"Topics not saved: {exc}.")
        else:
            messages.success(request, "Topics saved: the trends count them, and so does the model.")
            return redirect("sentiment:document", pk=doc.pk)
    elif request.method == "POST":
        form = CorrectionForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Pick positive, neutral or negative.")
        else:
            try:
                services.correction_create(
                    document_id=doc.pk,
                    label=form.cleaned_data["label"],
                    user=request.user,
                    sentence=form.cleaned_data["sentence"],
                )
            except ValueError as exc:
                messages.error(request, f"Not saved: {exc}.")
            else:
                messages.success(request, "Thanks: the correction joins the next training run.")
                return redirect("sentiment:document", pk=doc.pk)
    return render(
        request,
        "sentiment/document.html",
        {
            "doc": doc,
            "companies": doc.documententity_set.select_related("entity").order_by("entity__name"),
            "corrections": doc.corrections.all()[:20],
            "labels": ["positive", "neutral", "negative"],
            "topics": [(k, label) for k, (label, _w) in TOPICS.items()],
        },
    )


@analyst_only
def alerts(request: HttpRequest) -> HttpResponse:
    """Every alert the user may see, newest first, by status and page: the dashboard lists only
    the latest unresolved ones, so older and resolved alerts are found here."""
    status = request.GET.get("status", "")
    known = status in Alert.Status.values or status in ("", "unresolved")
    listed = selectors.alert_list(
        user=request.user, status=status if status in Alert.Status.values else ""
    )
    if status == "unresolved":
        listed = listed.exclude(status=Alert.Status.RESOLVED)
    page = Paginator(listed.order_by("-created_at", "-pk"), ALERTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "sentiment/alerts.html",
        {
            "page": page,
            "status": status if known else "",
            "statuses": [("unresolved", "Open or acknowledged"), *Alert.Status.choices],
            "bad_status": "" if known else status,
        },
        status=200 if known else 400,
    )


@analyst_only
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(selectors.alert_list(user=request.user), pk=pk)
    # The chart's windows are the rule's, ending two windows after the one that fired (or now),
    # so the window that fired is on it, shaded, whenever the page is opened.
    hours = max(1, min(168, services.alert_window_hours(alert)))
    end = min(timezone.now(), alert.window_end + timedelta(hours=2 * hours))
    return render(
        request,
        "sentiment/alert.html",
        {
            "alert": alert,
            "chart": {
                "bucket_hours": hours,
                "days": max(1, min(365, -(-hours * 32 // 24))),
                "end": end.isoformat(),
                "min_count": services.chart_min_count(alert),
                "window_start": alert.window_start.isoformat(),
                "window_end": alert.window_end.isoformat(),
            },
            "feed_query": services.alert_feed_query(alert),
            "move": services.alert_move_text(alert),
            "documents": selectors.alert_documents(alert),
            "subject": f"{alert.subject_kind}:{alert.subject_key}",
        },
    )


@analyst_only
@require_POST
def alert_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in ("acknowledge", "resolve"):
        raise Http404("unknown action")
    # Someone else's alert reads as missing: 404, nothing changes.
    mine = get_object_or_404(selectors.alert_list(user=request.user), pk=pk)
    alert = services.alert_transition(alert_id=mine.pk, action=action, user=request.user)
    if request.headers.get("HX-Request"):
        return render(request, "sentiment/_alert_row.html", {"alert": alert})
    messages.success(request, f"Alert {action}d.")
    back = request.POST.get("next", "")
    # Only back to a page of this site (no open redirect to another host).
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = "sentiment:dashboard"
    return redirect(back or "sentiment:dashboard")


def alert_email_action(request: HttpRequest, pk: int, action: str, token: str) -> HttpResponse:
    """From the email: GET asks for confirmation (mail scanners follow links), POST acts.

    No sign-in: the alert's secret token, sent only to its rule's owner, is the permission."""
    alert = Alert.objects.filter(pk=pk, action_token=token).select_related("rule").first()
    if alert is None or action not in ("acknowledge", "resolve"):
        # A page that says so, not the bare 404 (the alert may also have been deleted).
        return render(request, "sentiment/email_action.html", {"invalid": True}, status=404)
    done = False
    if request.method == "POST":
        before = alert.status
        alert = services.alert_transition(alert_id=alert.pk, action=action, user=None)
        # A second click, or an alert resolved meanwhile, changed nothing: the page says so.
        done = alert.status != before
    return render(
        request, "sentiment/email_action.html", {"alert": alert, "action": action, "done": done}
    )


def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        data = signing.loads(token, salt=services.UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return render(request, "sentiment/unsubscribe.html", {"invalid": True}, status=400)
    rule = AlertRule.objects.filter(pk=data.get("r")).first() if data.get("r") else None
    if (data.get("r") and rule is None) or not User.objects.filter(pk=data.get("u")).exists():
        # The rule (or the account) was deleted since the email: nothing sends any more.
        return render(request, "sentiment/unsubscribe.html", {"gone": True}, status=410)
    done = ""
    if request.method == "POST":
        # The page's "Subscribe again" posts the same token back; a plain POST unsubscribes.
        if request.POST.get("action") == "resubscribe":
            services.unsubscribe_revoke(token=token)
            done = "resubscribed"
        else:
            services.unsubscribe_apply(token=token)
            done = "unsubscribed"
    user_id = int(data["u"])
    unsubscribed = (
        selectors.user_unsubscribed(user_id=user_id, rule_id=rule.pk)
        if rule
        else selectors.user_unsubscribed_all(user_id=user_id)
    )
    return render(
        request,
        "sentiment/unsubscribe.html",
        {"rule": rule, "done": done, "unsubscribed": unsubscribed},
    )


@analyst_only
def watchlist(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    instance = get_object_or_404(Entity, pk=pk) if pk else None
    form = EntityForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        entity = form.save()
        messages.success(request, f"Saved {entity}. New texts are matched from now on.")
        return redirect("sentiment:watchlist")
    return render(
        request,
        "sentiment/watchlist.html",
        {"form": form, "entities": Entity.objects.all(), "editing": instance},
    )


@analyst_only
def rules(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = cast(User, request.user)  # analyst_only: the user is signed in
    mine = selectors.rule_list(owner_id=user.pk)
    instance = get_object_or_404(mine, pk=pk) if pk else None
    form = RuleForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        rule = services.rule_save(
            owner_id=user.pk,
            rule_id=instance.pk if instance else None,
            values={k: v for k, v in form.cleaned_data.items() if k in services.RULE_FIELDS},
        )
        messages.success(request, f"Saved rule {rule.name}.")
        return redirect("sentiment:rules")
    return render(
        request,
        "sentiment/rules.html",
        {
            "form": form,
            "editing": instance,
            "rules": mine,
            "unsubscribed_all": selectors.user_unsubscribed_all(user_id=user.pk),
        },
    )


@analyst_only
@require_POST
def rule_resubscribe(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Switch a rule's emails back on (or, without pk, undo the digest's "every rule" link)."""
    user = cast(User, request.user)
    rule = get_object_or_404(AlertRule, pk=pk, owner=user) if pk else None
    services.emails_resubscribe(user_id=user.pk, rule_id=rule.pk if rule else None)
    messages.success(
        request,
        f"Emails for {rule.name} are back on." if rule else "Alert emails are back on.",
    )
    return redirect("sentiment:rule_edit", pk=rule.pk) if rule else redirect("sentiment:rules")


@analyst_only
@require_POST
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(AlertRule, pk=pk, owner=request.user)
    services.rule_delete(rule_id=rule.pk)
    messages.success(request, "Rule deleted.")
    return redirect("sentiment:rules")


@analyst_only
def sources(request: HttpRequest) -> HttpResponse:
    form = SourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        source = services.source_create(**form.cleaned_data)
        messages.success(request, f"Added {source.name}; it is polled within a minute.")
        return redirect("sentiment:sources")
    models = Source._meta.get_field("embedding_model").choices
    context = {"form": form, "sources": selectors.source_list(), "embedding_models": models}
    return render(request, "sentiment/sources.html", context)


@analyst_only
@require_POST
def source_embedding_model(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk)
    model = request.POST.get("embedding_model", "")
    if model == source.embedding_model:
        return redirect("sentiment:sources")
    try:
        source = services.source_update(source_id=source.pk, embedding_model=model)
    except ValueError as exc:  # an unknown name: nothing changes
        messages.error(request, f"{source.name}: {exc}")
        return redirect("sentiment:sources")
    messages.success(
        request,
        f"{source.name} is tagged with {source.get_embedding_model_display()} from now on; "
        "its stored texts are being tagged again.",
    )
    return redirect("sentiment:sources")


@analyst_only
@require_POST
def source_poll(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk)
    if not source.is_feed:  # polling an API or upload source would only mark it failing
        messages.error(request, f"{source.name} is not an RSS/Atom feed; only feeds are polled.")
        return redirect("sentiment:sources")
    result = services.source_poll(source_id=source.pk)
    if result.error:
        messages.error(request, f"{source.name}: {result.error}")
    elif result.status == "busy":
        messages.warning(request, f"{source.name} is being polled right now.")
    else:
        messages.success(
            request,
            f"{source.name}: {result.created} new, "
            f"{result.duplicates} already known"
            + (" (not modified)" if result.not_modified else ""),
        )
    return redirect("sentiment:sources")


@analyst_only
@capped_upload
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    result = None
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            accepted = imports.upload_accept(
                upload=form.cleaned_data["file"],
                kind=ImportJob.Kind.DOCUMENTS,
                user=request.user,
                source_name=form.cleaned_data["source"],
            )
        except UploadError as exc:
            form.add_error("file", str(exc))
            status = 400
        except services.SourceNameTaken as exc:
            form.add_error("source", str(exc))
            status = 400
        else:
            if isinstance(accepted, ImportJob):  # a large file: follow its job
                return redirect("sentiment:import_job", accepted.pk)
            errors = [{"line": e.line, "error": e.reason} for e in accepted.errors]
            result = services.IngestResult(accepted.created_ids, accepted.job.duplicates, errors)
            if errors and not (result.created or result.duplicates):
                status = 400
    elif request.method == "POST":
        status = 400
    return render(request, "sentiment/upload.html", {"form": form, "result": result}, status=status)
