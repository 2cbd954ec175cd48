"""A knowledge base's LLM endpoint is chosen from a list that superusers keep, not typed.

The old free-text `llm_base_url` is kept only where it names an allowed endpoint: the server's
LLM_BASE_URL (the default, so the choice stays empty) or an endpoint already on the list. Any
other address is cleared, never trusted, and logged so that an administrator can add it to the
list after checking it.
"""

import logging

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

log = logging.getLogger(__name__)


def _same(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def free_text_urls_choose(apps, schema_editor):  # type: ignore[no-untyped-def]
    KnowledgeBase = apps.get_model("support", "KnowledgeBase")
    LlmEndpoint = apps.get_model("support", "LlmEndpoint")
    env_url = getattr(settings, "LLM_BASE_URL", "")
    for kb in KnowledgeBase.objects.exclude(llm_base_url=""):
        if env_url and _same(kb.llm_base_url, env_url):
            continue  # the server's endpoint is what an empty choice uses
        listed = next(
            (e for e in LlmEndpoint.objects.all() if _same(e.base_url, kb.llm_base_url)), None
        )
        if listed is not None:
            kb.llm_endpoint = listed
            kb.save(update_fields=["llm_endpoint"])
        else:
            log.warning(
                "knowledge base %r: LLM URL %r is not an allowed endpoint and was cleared; "
                "a superuser can add it under Support > LLM endpoints after checking it",
                kb.name,
                kb.llm_base_url,
            )


def endpoint_urls_restore(apps, schema_editor):  # type: ignore[no-untyped-def]
    KnowledgeBase = apps.get_model("support", "KnowledgeBase")
    for kb in KnowledgeBase.objects.exclude(llm_endpoint=None).select_related("llm_endpoint"):
        kb.llm_base_url = kb.llm_endpoint.base_url
        kb.save(update_fields=["llm_base_url"])


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="LlmEndpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=120, unique=True)),
                (
                    "base_url",
                    models.URLField(
                        help_text="e.g. https://llm.example.com/v1. An internal address also "
                        "needs OUTBOUND_ALLOW_HOSTS or OUTBOUND_ALLOW_NETWORKS.",
                        max_length=200,
                    ),
                ),
                (
                    "model",
                    models.CharField(
                        blank=True,
                        help_text="Model name sent to it, unless the KB names one.",
                        max_length=120,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={"verbose_name": "LLM endpoint", "ordering": ["name"]},
        ),
        migrations.AddField(
            model_name="knowledgebase",
            name="llm_endpoint",
            field=models.ForeignKey(
                blank=True,
                help_text="Empty: the server's endpoint (LLM_BASE_URL), else the local SmolLM2 "
                "model.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="knowledge_bases",
                to="support.llmendpoint",
            ),
        ),
        migrations.RunPython(free_text_urls_choose, endpoint_urls_restore),
    ]
