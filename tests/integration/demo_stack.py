"""The demo on a stack of its own, beside the session's: the tests of the demo's first run and
of every page load the demo into their own database, so the session's stays as the other tests
expect it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from tests.integration.conftest import Stack, database_created


@contextmanager
def demo_stack(stack: Stack, name: str) -> Iterator[Stack]:
    """A stack with its own database and data folder (`<data_dir>/<name>`) whose tasks run where
    they are queued, as in bin/demo's single process. Nothing is started or loaded yet; on the
    way out its processes stop, the Redis db is emptied and the database dropped."""
    with database_created(f"textsuite_{name}") as database_url:
        data_dir = stack.data_dir / name
        data_dir.mkdir(exist_ok=True)
        env = dict(stack.env)
        env.update(
            {
                "DATABASE_URL": database_url,
                "DATA_DIR": str(data_dir),
                "ML_MODEL_DIR": str(data_dir / "models"),
                "ML_INDEX_DIR": str(data_dir / "indices"),
                "CELERY_TASK_ALWAYS_EAGER": "1",
            }
        )
        own = Stack(env=env, data_dir=data_dir, database_url=database_url)
        try:
            yield own
        finally:
            own.stop_all()
            redis.Redis.from_url(env["REDIS_URL"]).flushdb()


def demo_load(stack: Stack) -> None:
    """Migrate the stack's database and load the demo without models (`demo_setup --no-train`)."""
    for command in (("migrate", "--noinput"), ("demo_setup", "--no-train")):
        done = stack.manage(*command, timeout=900)
        assert done.returncode == 0, done.stdout + done.stderr
