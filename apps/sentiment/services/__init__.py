"""Writes and side effects of the sentiment app, one module per sub-domain.

A document's route: sources -> ingest -> scoring -> aggregates -> alerts -> emails
(a feed is polled, its items stored, scored, counted per hour; the counts fire a rule; the
owner hears of it). Ingest hands over to scoring through the scoring task, and alerts read the
aggregates through selectors, so neither hop is an import.

The modules import one way (each only the ones after its arrow):

    sources -> ingest
    scoring -> ingest, aggregates
    rescoring -> ingest, aggregates, _common
    editing -> rescoring
    topics -> aggregates, _common                    (a source's texts tagged again)
    deletion -> aggregates, _common
    alerts, digests -> emails -> subscriptions
    rules, entities, corrections                     (what analysts edit; import none)

A service that queues a task imports the tasks module inside the function: tasks imports
this package.
"""

from ._common import DOCUMENT_WRITE_BATCH
from .aggregates import AggregateTotals, aggregates_add, aggregates_subtract
from .alerts import (
    ALERT_SEND_MAX_AGE,
    alert_send,
    alert_transition,
    alerts_evaluate,
    alerts_send_pending,
)
from .corrections import correction_create, topic_correction_create
from .deletion import documents_delete, source_delete
from .digests import alerts_digest_catch_up, alerts_digest_send
from .editing import DOCUMENT_FIELDS, document_edit_problem, document_update
from .emails import (
    METRIC_TREND_LABELS,
    SEND_CLAIM_S,
    alert_chart_png,
    alert_email_build,
    alert_feed_query,
    alert_move_short,
    alert_move_text,
    alert_window_hours,
    chart_min_count,
    digest_email_build,
)
from .entities import COMMON_WORD_TICKERS, entity_delete, entity_upsert
from .ingest import IngestResult, documents_ingest, documents_score_enqueue, row_unstorable
from .rescoring import RescoreResult, documents_rescore, documents_rescore_count
from .rules import RULE_FIELDS, rule_delete, rule_save
from .scoring import (
    MAX_SCORE_ATTEMPTS,
    Scorer,
    documents_rescue,
    documents_score,
    probabilities_combine,
    scorer_get,
)
from .sources import (
    FEED_KINDS,
    PollResult,
    SourceNameTaken,
    source_create,
    source_get_or_create,
    source_name_taken_message,
    source_poll,
    source_poll_queue,
    source_update,
    sources_due,
)
from .subscriptions import (
    UNSUBSCRIBE_SALT,
    emails_resubscribe,
    unsubscribe_apply,
    unsubscribe_revoke,
    unsubscribe_token,
)
from .topics import source_topics_retag

__all__ = [
    "ALERT_SEND_MAX_AGE",
    "COMMON_WORD_TICKERS",
    "DOCUMENT_FIELDS",
    "DOCUMENT_WRITE_BATCH",
    "FEED_KINDS",
    "MAX_SCORE_ATTEMPTS",
    "METRIC_TREND_LABELS",
    "RULE_FIELDS",
    "SEND_CLAIM_S",
    "UNSUBSCRIBE_SALT",
    "AggregateTotals",
    "IngestResult",
    "PollResult",
    "RescoreResult",
    "Scorer",
    "SourceNameTaken",
    "aggregates_add",
    "aggregates_subtract",
    "alert_chart_png",
    "alert_email_build",
    "alert_feed_query",
    "alert_move_short",
    "alert_move_text",
    "alert_send",
    "alert_transition",
    "alert_window_hours",
    "alerts_digest_catch_up",
    "alerts_digest_send",
    "alerts_evaluate",
    "alerts_send_pending",
    "chart_min_count",
    "correction_create",
    "digest_email_build",
    "document_edit_problem",
    "document_update",
    "documents_delete",
    "documents_ingest",
    "documents_rescore",
    "documents_rescore_count",
    "documents_rescue",
    "documents_score",
    "documents_score_enqueue",
    "emails_resubscribe",
    "entity_delete",
    "entity_upsert",
    "probabilities_combine",
    "row_unstorable",
    "rule_delete",
    "rule_save",
    "scorer_get",
    "source_create",
    "source_delete",
    "source_get_or_create",
    "source_name_taken_message",
    "source_poll",
    "source_poll_queue",
    "source_topics_retag",
    "source_update",
    "sources_due",
    "topic_correction_create",
    "unsubscribe_apply",
    "unsubscribe_revoke",
    "unsubscribe_token",
]
