"""The alert and digest emails: their words, trend charts and links; whether one may go."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from email.mime.image import MIMEImage
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse

from .. import selectors
from ..charts import trend_png
from ..models import Alert, AlertRule
from .subscriptions import unsubscribe_token

# A send claim older than this was left by a worker that died; another worker takes it over.
# The send task's time limit and the SMTP timeout keep a live send well inside it.
SEND_CLAIM_S = 600
SEND_TIMEOUT_S = 60


def alert_window_hours(alert: Alert) -> int:
    """The length of the window that fired, as it was then (the rule may have been edited)."""
    return max(1, round((alert.window_end - alert.window_start).total_seconds() / 3600))


def alert_move_text(alert: Alert) -> str:
    """The size of the move in words, for subjects and headings."""
    if alert.metric == AlertRule.Metric.NEGATIVE_SHARE:
        return (
            f"negative news at {alert.value:.0%} (usual {alert.baseline:.0%}, "
            f"{(alert.value - alert.baseline) * 100:+.0f} pts)"
        )
    if alert.metric == AlertRule.Metric.VOLUME:
        ratio = alert.value / alert.baseline if alert.baseline else 0
        return (
            f"{alert.value:.0f} texts in {alert_window_hours(alert)}h "
            f"(usual {alert.baseline:.0f}" + (f", x{ratio:.1f})" if ratio else ")")
        )
    return (
        f"mean sentiment {alert.value:+.2f} (usual {alert.baseline:+.2f}, "
        f"{alert.value - alert.baseline:+.2f})"
    )


def alert_move_short(alert: Alert) -> str:
    """The move in a few characters, for a digest's subject line."""
    if alert.metric == AlertRule.Metric.NEGATIVE_SHARE:
        return f"{(alert.value - alert.baseline) * 100:+.0f} pts negative"
    if alert.metric == AlertRule.Metric.VOLUME:
        if alert.baseline:
            return f"x{alert.value / alert.baseline:.1f} volume"
        return f"{alert.value:.0f} texts"
    return f"{alert.value - alert.baseline:+.2f} sentiment"


METRIC_TREND_LABELS: dict[str, str] = {
    AlertRule.Metric.NEGATIVE_SHARE.value: "share of negative texts",
    AlertRule.Metric.VOLUME.value: "number of texts",
    AlertRule.Metric.MEAN_SCORE_DROP.value: "mean sentiment, -1 to +1",
}


def chart_min_count(alert: Alert) -> int:
    """Fewest texts for a window's share or mean on this alert's charts: the chart setting, but
    never above the rule's minimum, so the window that fired is always drawn."""
    floor: int = settings.SENTIMENT_CHART_MIN_COUNT
    return max(1, min(floor, alert.rule.min_volume or 1))


def _window_metric_text(metric: str, window: selectors.WindowStat, min_count: int = 1) -> str:
    if metric == AlertRule.Metric.VOLUME:
        return f"{window.n} texts"
    if not window.n:
        return "-"
    if window.n < min_count:
        return f"too few texts ({window.n})"
    if metric == AlertRule.Metric.MEAN_SCORE_DROP:
        return f"mean {window.mean_score:+.2f}"
    return f"{window.negative_share:.0%} negative"


def alert_chart_png(
    *, metric: str, series: Sequence[selectors.WindowStat], min_count: int = 1
) -> bytes:
    """The trend of the metric the rule watches (a line on a 0..1 scale) over volume bars.

    A window with fewer than `min_count` texts (none included) is a gap in a share or mean line,
    not 0% or a neutral 0."""
    points: list[float | None]
    enough = max(1, min_count)
    if metric == AlertRule.Metric.VOLUME:
        top = max((w.n for w in series), default=0) or 1
        points = [w.n / top for w in series]
    elif metric == AlertRule.Metric.MEAN_SCORE_DROP:
        # -1..+1 onto the chart's 0..1.
        points = [(w.mean_score + 1) / 2 if w.n >= enough else None for w in series]
    else:
        points = [w.negative_share if w.n >= enough else None for w in series]
    return trend_png(points, [w.n for w in series])


def chart_axes(*, metric: str, series: Sequence[selectors.WindowStat]) -> dict[str, Any]:
    """The chart's scale in words, printed beside the image (which has no text of its own):
    what the line's top and bottom mean, the tallest bar, and the first and last window."""
    top_n = max((w.n for w in series), default=0)
    if metric == AlertRule.Metric.VOLUME:
        top, bottom = f"{top_n} texts", "0 texts"
    elif metric == AlertRule.Metric.MEAN_SCORE_DROP:
        top, bottom = "+1 (all positive)", "-1 (all negative)"
    else:
        top, bottom = "100% negative", "0% negative"
    return {
        "top": top,
        "bottom": bottom,
        "bars": f"bars: texts per window, tallest {top_n}",
        "start": series[0].start if series else None,
        "end": series[-1].end if series else None,
    }


def alert_feed_query(alert: Alert) -> str:
    """The dashboard's query for an alert: its trend, and the live feed filtered to its company
    or topic and to the window that fired (`window=<start>/<end>`, ISO 8601)."""
    query = {"subject": f"{alert.subject_kind}:{alert.subject_key}"}
    if alert.subject_kind == "entity":
        query["entity"] = alert.subject_key
    elif alert.subject_kind == "topic":
        query["topic"] = alert.subject_key
    start = alert.window_start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = alert.window_end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    query["window"] = f"{start}/{end}"
    return urlencode(query, safe=":/")


def site_url(path: str) -> str:
    site_url: str = settings.SITE_URL
    return site_url.rstrip("/") + path


def alert_context(alert: Alert, *, chart_cid: str = "trend") -> dict[str, Any]:
    """What an alert email (or one alert of a digest) shows."""
    rule = alert.rule
    window_hours = alert_window_hours(alert)
    series = selectors.window_series(
        subject_kind=alert.subject_kind,
        subject_key=alert.subject_key,
        end=alert.window_end,
        window_hours=window_hours,
        count=16,
    )
    docs = list(selectors.alert_documents(alert)[:5])
    return {
        "alert": alert,
        "rule": rule,
        "window_hours": window_hours,
        "move": alert_move_text(alert),
        "metric_label": METRIC_TREND_LABELS.get(alert.metric, alert.metric),
        "documents": docs,
        # A text without its own URL links to its page here.
        "headlines": [
            (doc, doc.url or site_url(reverse("sentiment:document", args=[doc.pk]))) for doc in docs
        ],
        "series": series,
        "trend": [
            (w, _window_metric_text(alert.metric, w, chart_min_count(alert))) for w in series
        ],
        "chart_min_count": chart_min_count(alert),
        "chart_cid": chart_cid,
        "axes": chart_axes(metric=alert.metric, series=series),
        "dashboard_url": site_url(reverse("sentiment:dashboard") + "?" + alert_feed_query(alert)),
        "alert_url": site_url(reverse("sentiment:alert_detail", args=[alert.pk])),
        "ack_url": site_url(
            reverse(
                "sentiment:alert_email_action", args=[alert.pk, "acknowledge", alert.action_token]
            )
        ),
        "resolve_url": site_url(
            reverse("sentiment:alert_email_action", args=[alert.pk, "resolve", alert.action_token])
        ),
        "unsubscribe_url": site_url(
            reverse(
                "sentiment:unsubscribe",
                args=[unsubscribe_token(user_id=rule.owner_id, rule_id=rule.pk)],
            )
        ),
    }


def chart_attach(message: EmailMultiAlternatives, context: dict[str, Any]) -> None:
    alert = context["alert"]
    image = MIMEImage(
        alert_chart_png(
            metric=alert.metric, series=context["series"], min_count=context["chart_min_count"]
        ),
        "png",
    )
    image.add_header("Content-ID", f"<{context['chart_cid']}>")
    image.add_header("Content-Disposition", "inline", filename=f"{context['chart_cid']}.png")
    message.attach(image)


def mail_connection() -> Any:
    # A bounded SMTP wait keeps a send well inside its claim (SEND_CLAIM_S).
    return get_connection(timeout=min(settings.EMAIL_TIMEOUT or SEND_TIMEOUT_S, SEND_TIMEOUT_S))


def alert_email_build(alert: Alert) -> EmailMultiAlternatives:
    """The alert email: plain text and HTML with an inline trend chart (cid:trend)."""
    context = alert_context(alert)
    subject = f"[Textsuite] {alert.subject_label}: {context['move']}"
    message = EmailMultiAlternatives(
        subject=subject[:250],
        body=render_to_string("sentiment/email/alert.txt", context),
        to=[alert.rule.owner.email],
        headers={"List-Unsubscribe": f"<{context['unsubscribe_url']}>"},
        connection=mail_connection(),
    )
    message.attach_alternative(render_to_string("sentiment/email/alert.html", context), "text/html")
    message.mixed_subtype = "related"  # type: ignore[attr-defined]  # class attr missing in stubs
    chart_attach(message, context)
    return message


def send_skip_reason(*, owner: Any, rule_id: int) -> str:
    if not owner.email:
        return Alert.SendSkipped.NO_ADDRESS.value
    if selectors.user_unsubscribed(user_id=owner.pk, rule_id=rule_id):
        return Alert.SendSkipped.UNSUBSCRIBED.value
    return ""


def digest_email_build(*, alerts: Sequence[Alert], owner: Any) -> EmailMultiAlternatives:
    """The daily digest: per alert its move, a small inline chart (cid:trend-<id>), the texts that
    drove it and acknowledge/resolve links; the subject names the subjects and their moves."""
    items = [alert_context(a, chart_cid=f"trend-{a.pk}") for a in alerts]
    unsubscribe_url = site_url(
        reverse("sentiment:unsubscribe", args=[unsubscribe_token(user_id=owner.pk, rule_id=None)])
    )
    context = {
        "items": items,
        "dashboard_url": site_url(reverse("sentiment:dashboard")),
        "unsubscribe_url": unsubscribe_url,
    }
    named = ", ".join(f"{a.subject_label} {alert_move_short(a)}" for a in alerts[:3])
    more = f", +{len(alerts) - 3} more" if len(alerts) > 3 else ""
    count = f"{len(alerts)} alert{'s' if len(alerts) != 1 else ''}"
    subject = f"[Textsuite] Daily digest: {count} \N{EM DASH} {named}{more}"
    if len(subject) > 250:
        subject = subject[:249] + "\N{HORIZONTAL ELLIPSIS}"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("sentiment/email/digest.txt", context),
        to=[owner.email],
        headers={"List-Unsubscribe": f"<{unsubscribe_url}>"},
        connection=mail_connection(),
    )
    message.attach_alternative(
        render_to_string("sentiment/email/digest.html", context), "text/html"
    )
    message.mixed_subtype = "related"  # type: ignore[attr-defined]  # class attr missing in stubs
    for item in items:
        chart_attach(message, item)
    return message
