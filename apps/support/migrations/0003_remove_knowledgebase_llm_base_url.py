"""The free-text LLM URL goes, after 0002 moved what it allowed to the endpoint choice. A
migration of its own: PostgreSQL refuses to alter a table with pending deferred-FK checks
from rows updated in the same transaction."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0002_llm_endpoint"),
    ]

    operations = [
        migrations.RemoveField(model_name="knowledgebase", name="llm_base_url"),
    ]
