"""Test profile: the embedded settings with eager Celery and throw-away data folders.

Loaded as a plugin (`-p tests._env` in pyproject.toml) so it runs before pytest-django imports
the settings. TEST_DATABASE_URL runs the Django tests on PostgreSQL (CI does); integration tests
start real processes against TEST_DATABASE_URL / TEST_REDIS_URL themselves.
"""

import os
import tempfile
from pathlib import Path

_DATA = Path(tempfile.mkdtemp(prefix="textsuite-test-"))
os.environ["DATA_DIR"] = str(_DATA)
os.environ["ML_MODEL_DIR"] = str(_DATA / "models")
os.environ["ML_INDEX_DIR"] = str(_DATA / "indices")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
os.environ["CELERY_EMBEDDED_WORKER"] = "0"
# No background monitoring writes racing the tests' transactions; tests flush explicitly.
os.environ["ML_MONITOR_FLUSH_SECONDS"] = "0"
# Exporting a promoted classifier's serving forms takes a minute per version; the tests that
# cover it switch it on (tests/mlops/test_serving_forms.py).
os.environ["ML_FORMS_ON_PROMOTE"] = "0"
# The embedder's automatic form serves fp32 torch until its serving forms are exported, instead of
# exporting them first: every adapted encoder and temporary model a test embeds with would
# otherwise be exported and measured (15 to 40 s each). The packaged MiniLM's forms are exported
# once per machine before the first test (tests/conftest.py), so its embedders, here and in the
# integration tests' processes, serve the form production chooses; tests/mlcore/test_embedder.py
# covers the export on first use.
os.environ.setdefault("ML_EMBED_FORMS_EXPORT", "later")
# Sentiment tests tag topics by keywords unless they test the topic model (which loads the
# embedder): tests/sentiment/test_topic_model.py switches it on.
os.environ.setdefault("SENTIMENT_TOPIC_TAGGER", "keywords")
# Importing config.asgi (tests/config/test_asgi.py) would give every later test of the process one
# thread per model call; tests/config/test_model_threads.py covers the web process's default.
os.environ.setdefault("ML_MODEL_THREADS", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_URL", "DJANGO_ENV"):
    os.environ.pop(name, None)
# Tests that need a local server allow 127.0.0.1 themselves; nothing is allowed by default.
for name in ("OUTBOUND_ALLOW_HOSTS", "OUTBOUND_ALLOW_NETWORKS"):
    os.environ.pop(name, None)
# bin/test runs the suite in two pytest-xdist workers. The integration tests' processes share
# Redis, and each worker's stack flushes its database, so each worker gets a database of its own
# (gw0 the one TEST_REDIS_URL names, gw1 the one below it). PostgreSQL needs nothing: pytest-django
# and the stack name their databases per worker or per run.


def worker_redis_url(url: str, worker: str) -> str:
    """`url` with the Redis database of xdist worker `worker` ("gw1": one below url's)."""
    if not worker.startswith("gw"):
        return url
    base, _, db = url.rpartition("/")
    return f"{base}/{(int(db or 0) - int(worker[2:])) % 16}"


os.environ["TEST_REDIS_URL"] = worker_redis_url(
    os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    os.environ.get("PYTEST_XDIST_WORKER", ""),
)
if os.environ.get("TEST_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
