"""REST API: knowledge CRUD and import, ask, conversations and messages, feedback, stats.

One module per audience; `api_urls` routes to the names re-exported here:

    _common -> knowledge   (agents: knowledge bases, articles, FAQ pairs, imports)
    _common -> chat        (customers: ask, chat by token, CSAT, ratings, a human)
    _common -> console     (agents: conversations, flags, canned responses, stats)
    _common -> review      (agents: unhelpful, handed-over and flagged answers)
    _common -> learning    (agents: proposed intent training rows, confirming answers)
    _common -> web         (agents: site crawls, sitemap imports, web pages re-synced)
"""

from .chat import (
    AskThrottle,
    AskView,
    ChatStartThrottle,
    ConversationStartView,
    CustomerCsatView,
    CustomerHumanView,
    CustomerMessagesView,
    CustomerRateView,
)
from .console import (
    CannedResponseViewSet,
    ConversationViewSet,
    MessageFlagView,
    StatsView,
)
from .knowledge import (
    ArticleViewSet,
    FAQViewSet,
    ImportFileView,
    ImportUrlView,
    KnowledgeBaseViewSet,
    LlmEndpointViewSet,
    PastConversationView,
)
from .learning import (
    AnswerConfirmView,
    TrainingCandidateAcceptView,
    TrainingCandidateRejectView,
    TrainingCandidatesView,
)
from .review import ReviewView
from .web import CrawlsView, CrawlView, WebPagesSyncView, WebPagesView

__all__ = [
    "AnswerConfirmView",
    "ArticleViewSet",
    "AskThrottle",
    "AskView",
    "CannedResponseViewSet",
    "ChatStartThrottle",
    "ConversationStartView",
    "ConversationViewSet",
    "CrawlView",
    "CrawlsView",
    "CustomerCsatView",
    "CustomerHumanView",
    "CustomerMessagesView",
    "CustomerRateView",
    "FAQViewSet",
    "ImportFileView",
    "ImportUrlView",
    "KnowledgeBaseViewSet",
    "LlmEndpointViewSet",
    "MessageFlagView",
    "PastConversationView",
    "ReviewView",
    "StatsView",
    "TrainingCandidateAcceptView",
    "TrainingCandidateRejectView",
    "TrainingCandidatesView",
    "WebPagesSyncView",
    "WebPagesView",
]
