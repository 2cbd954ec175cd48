"""Writes: knowledge (articles, chunks, FAQ, past conversations, imports) and live chat.

Chat rules that customers and agents rely on, each enforced by a conditional update or a row lock:
- the bot writes only while the conversation is with the bot (never after a takeover);
- a handoff is stored (status + system message) before anyone is told about it;
- a closed conversation never goes back to the queue;
- a conversation an agent has is closed only by that agent or a supervisor (staff).

One module per sub-domain; they import one way (an arrow: "is imported by"):

    _common -> knowledge -> faqs -> knowledge_import        (knowledge base)
    _common -> agents -> handoff -> conversations           (live chat)
    _common -> after_hours -> handoff, replies              (out of hours: answers by email)
                         handoff -> replies                 (the bot's reply)
    _common, faqs -> feedback                               (ratings, CSAT, flags, FAQ drafts)
    knowledge -> calibration                                (confidence follows the intent model)
    faqs -> learning, faq_proposals                         (training rows, FAQ drafts from chats)
    knowledge -> web_pages -> knowledge_import, crawls      (pages from the web, kept fresh)

Callers use this package (`services.faq_upsert`); a test that replaces a function patches it in
the sub-module that calls it (`services.replies.answer_compose`).
"""

from ..text import InvalidText
from ._common import (
    NO_AGENT_ONLINE_TEXT,
    ConversationClosed,
    NotAllowed,
    NotPermitted,
    TooManyMessages,
    conversation_supervises,
)
from .after_hours import (
    EmailNotSent,
    conversation_email_reply,
    email_address_find,
    email_address_take,
    knowledge_base_hours_update,
)
from .agents import (
    agent_presence_connect,
    agent_presence_disconnect,
    agent_presence_heartbeat,
    canned_response_create,
    canned_response_delete,
    canned_response_update,
    canned_responses_delete,
    conversations_assign,
    presence_expire,
)
from .calibration import intent_calibration_refresh
from .conversations import (
    CLOSED_TEXT,
    CUSTOMER_MESSAGES_PER_MINUTE,
    agent_message_post,
    conversation_close,
    conversation_start,
    customer_message_post,
    note_add,
)
from .crawls import crawl_run, crawl_start, crawls_rescue
from .embedding import (
    knowledge_base_adapted_base_set,
    knowledge_base_embedding_model_set,
    knowledge_bases_adapted_base_sync,
    knowledge_embed,
)
from .faq_proposals import faq_drafts_propose
from .faqs import (
    faq_delete,
    faq_draft_discard,
    faq_publish,
    faq_update,
    faq_upsert,
    faq_values_clean,
    faqs_delete,
    past_conversation_delete,
    past_conversation_update,
    past_conversation_upsert,
    past_conversation_values_clean,
    past_conversations_delete,
)
from .feedback import (
    csat_submit,
    faq_draft_from_conversation,
    message_flag,
    message_rate,
)
from .handoff import (
    ALREADY_BY_EMAIL_TEXT,
    ALREADY_WAITING_TEXT,
    ALREADY_WITH_AGENT_TEXT,
    HumanRequest,
    conversation_handoff,
    conversation_human_request,
    conversation_take_over,
    conversation_transfer,
)
from .knowledge import (
    article_delete,
    article_upsert,
    articles_delete,
    chunks_sync,
    knowledge_base_calibrate,
    knowledge_base_delete,
    knowledge_base_ensure,
    knowledge_base_settings_clean,
    knowledge_base_settings_update,
    knowledge_base_slug_set,
    knowledge_bases_delete,
    llm_endpoint_save,
    llm_endpoints_delete,
)
from .knowledge_import import (
    MAX_IMPORT_BYTES,
    URL_IMPORT_DEADLINE_S,
    ImportReport,
    knowledge_import_file,
    knowledge_import_url,
)
from .learning import (
    answer_confirm,
    training_candidate_accept,
    training_candidate_reject,
    training_candidates_collect,
)
from .replies import (
    TOKEN_CHECK_EVERY,
    bot_reply,
    bot_reply_or_handoff,
    bot_reply_stream,
)
from .web_pages import (
    web_page_claim,
    web_page_import,
    web_page_sync,
    web_pages_due,
    web_pages_sync_now,
)

__all__ = [
    "ALREADY_BY_EMAIL_TEXT",
    "ALREADY_WAITING_TEXT",
    "ALREADY_WITH_AGENT_TEXT",
    "CLOSED_TEXT",
    "CUSTOMER_MESSAGES_PER_MINUTE",
    "MAX_IMPORT_BYTES",
    "NO_AGENT_ONLINE_TEXT",
    "TOKEN_CHECK_EVERY",
    "URL_IMPORT_DEADLINE_S",
    "ConversationClosed",
    "EmailNotSent",
    "HumanRequest",
    "ImportReport",
    "InvalidText",
    "NotAllowed",
    "NotPermitted",
    "TooManyMessages",
    "agent_message_post",
    "agent_presence_connect",
    "agent_presence_disconnect",
    "agent_presence_heartbeat",
    "answer_confirm",
    "article_delete",
    "article_upsert",
    "articles_delete",
    "bot_reply",
    "bot_reply_or_handoff",
    "bot_reply_stream",
    "canned_response_create",
    "canned_response_delete",
    "canned_response_update",
    "canned_responses_delete",
    "chunks_sync",
    "conversation_close",
    "conversation_email_reply",
    "conversation_handoff",
    "conversation_human_request",
    "conversation_start",
    "conversation_supervises",
    "conversation_take_over",
    "conversation_transfer",
    "conversations_assign",
    "crawl_run",
    "crawl_start",
    "crawls_rescue",
    "csat_submit",
    "customer_message_post",
    "email_address_find",
    "email_address_take",
    "faq_delete",
    "faq_draft_discard",
    "faq_draft_from_conversation",
    "faq_drafts_propose",
    "faq_publish",
    "faq_update",
    "faq_upsert",
    "faq_values_clean",
    "faqs_delete",
    "intent_calibration_refresh",
    "knowledge_base_adapted_base_set",
    "knowledge_base_calibrate",
    "knowledge_base_delete",
    "knowledge_base_embedding_model_set",
    "knowledge_base_ensure",
    "knowledge_base_hours_update",
    "knowledge_base_settings_clean",
    "knowledge_base_settings_update",
    "knowledge_base_slug_set",
    "knowledge_bases_adapted_base_sync",
    "knowledge_bases_delete",
    "knowledge_embed",
    "knowledge_import_file",
    "knowledge_import_url",
    "llm_endpoint_save",
    "llm_endpoints_delete",
    "message_flag",
    "message_rate",
    "note_add",
    "past_conversation_delete",
    "past_conversation_update",
    "past_conversation_upsert",
    "past_conversation_values_clean",
    "past_conversations_delete",
    "presence_expire",
    "training_candidate_accept",
    "training_candidate_reject",
    "training_candidates_collect",
    "web_page_claim",
    "web_page_import",
    "web_page_sync",
    "web_pages_due",
    "web_pages_sync_now",
]
