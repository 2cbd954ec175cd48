"""Rows of the support app as tests need them: knowledge bases, articles and their chunks (rows
only: not chunked or embedded), LLM endpoints, conversations and their messages, agents'
presence, proposed training rows."""

from __future__ import annotations

import factory

from apps.support.models import (
    AgentPresence,
    Article,
    Chunk,
    Conversation,
    KnowledgeBase,
    LlmEndpoint,
    Message,
    TrainingCandidate,
)
from tests.accounts.factories import SupportAgentFactory


class KnowledgeBaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KnowledgeBase

    name = factory.Sequence(lambda n: f"Help centre {n}")


class ArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Article

    kb = factory.SubFactory(KnowledgeBaseFactory)
    title = factory.Sequence(lambda n: f"Article {n}")
    body = "How to order a new card when yours is lost or stolen."
    source_key = factory.Sequence(lambda n: f"article-{n}")


class ChunkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Chunk

    article = factory.SubFactory(ArticleFactory)
    kb = factory.SelfAttribute("article.kb")
    position = factory.Sequence(lambda n: n)
    text = factory.SelfAttribute("article.body")
    content_hash = factory.Sequence(lambda n: f"{n:064d}")


class LlmEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LlmEndpoint

    name = factory.Sequence(lambda n: f"LLM {n}")
    base_url = "https://llm.example.com/v1"


class ConversationFactory(factory.django.DjangoModelFactory):
    """A conversation with the bot, in a knowledge base of its own unless `kb` is given."""

    class Meta:
        model = Conversation

    kb = factory.SubFactory(KnowledgeBaseFactory)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    sender = Message.Sender.CUSTOMER
    text = factory.Sequence(lambda n: f"Question {n}")


class AgentPresenceFactory(factory.django.DjangoModelFactory):
    """A support agent with the console open once."""

    class Meta:
        model = AgentPresence

    agent = factory.SubFactory(SupportAgentFactory)
    connections = 1


class TrainingCandidateFactory(factory.django.DjangoModelFactory):
    """A proposed training row from a bot answer the customer rated helpful."""

    class Meta:
        model = TrainingCandidate

    conversation = factory.SubFactory(ConversationFactory)
    kb = factory.SelfAttribute("conversation.kb")
    message = factory.SubFactory(
        MessageFactory,
        conversation=factory.SelfAttribute("..conversation"),
        sender=Message.Sender.BOT,
        text="Your new card usually arrives within 5 to 7 working days.",
    )
    question = factory.Sequence(lambda n: f"When does my card arrive? ({n})")
    answer = factory.SelfAttribute("message.text")
    intent = "card_arrival"
    source = TrainingCandidate.Source.RATED_GOOD
