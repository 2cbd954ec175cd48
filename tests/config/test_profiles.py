"""The settings profiles, checked in fresh processes as an operator would start them."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(args, env_overrides, timeout=240):
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "DATABASE_URL",
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "CELERY_TASK_ALWAYS_EAGER",
            "CELERY_EMBEDDED_WORKER",
            "DJANGO_ENV",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
        )
    }
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_production_refuses_to_start_without_secret_key(tmp_path):
    result = run(["manage.py", "check"], {"DJANGO_ENV": "production", "DATA_DIR": str(tmp_path)})

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr and "ALLOWED_HOSTS" in result.stderr


def test_production_settings_pass_check_deploy(tmp_path):
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {
            "DJANGO_ENV": "production",
            "SECRET_KEY": "x" * 20 + "-a-long-random-production-key-9f8e7d",
            "ALLOWED_HOSTS": "textsuite.example.com",
            "DATA_DIR": str(tmp_path),
        },
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_embedded_profile_runs_tasks_in_process_without_a_broker(tmp_path):
    env = {"DATA_DIR": str(tmp_path)}
    migrate = run(["manage.py", "migrate", "--noinput"], env)
    assert migrate.returncode == 0, migrate.stderr
    script = textwrap.dedent("""
        import django, os
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        from django.conf import settings
        from config.celery import embedded_worker_start
        from apps.mlops.tasks import training_run_fail_stale_task
        assert settings.CELERY_BROKER_URL == "memory://", settings.CELERY_BROKER_URL
        assert embedded_worker_start()
        result = training_run_fail_stale_task.delay()
        print("RESULT", result.get(timeout=60))
    """)

    result = run(["-c", script], env, timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "RESULT 0" in result.stdout


@pytest.mark.slow
def test_embedded_profile_runs_tasks_inline_where_no_worker_runs(tmp_path):
    """A management command in the embedded profile must not drop the tasks it enqueues."""
    env = {"DATA_DIR": str(tmp_path)}
    assert run(["manage.py", "migrate", "--noinput"], env).returncode == 0
    script = textwrap.dedent("""
        import django, os
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        from apps.mlops.tasks import training_run_fail_stale_task
        result = training_run_fail_stale_task.delay()
        print("INLINE", result.successful(), result.get(timeout=5))
    """)

    result = run(["-c", script], env, timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "INLINE True 0" in result.stdout


ROUTE_PROBE = textwrap.dedent(
    """
    import django, os
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from config.celery import app
    for task in ("alert_send_task", "alerts_digest_send_task", "alerts_evaluate_task",
                 "documents_score_task"):
        name = "apps.sentiment.tasks." + task
        print(name, app.amqp.router.route({}, name)["queue"].name)
    """
)


@pytest.mark.parametrize("alert_queue", ["", "alerts"])
def test_alert_tasks_take_their_own_queue_when_configured(tmp_path, alert_queue):
    result = run(
        ["-c", ROUTE_PROBE], {"CELERY_ALERT_QUEUE": alert_queue, "DATA_DIR": str(tmp_path)}
    )

    assert result.returncode == 0, result.stderr
    queues = dict(line.split() for line in result.stdout.splitlines())
    expected = alert_queue or "inference"
    assert queues["apps.sentiment.tasks.alert_send_task"] == expected
    assert queues["apps.sentiment.tasks.alerts_digest_send_task"] == expected
    assert queues["apps.sentiment.tasks.alerts_evaluate_task"] == expected
    assert queues["apps.sentiment.tasks.documents_score_task"] == "inference"


SQLITE_UPGRADE_PROBE = textwrap.dedent(
    """
    import django, os, threading
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE probe (n integer)")
    read, written, errors = threading.Event(), threading.Event(), []

    def reader_then_writer():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM probe")
                read.set()
                written.wait(2)  # another thread writes meanwhile, or waits for us
                cursor.execute("INSERT INTO probe VALUES (1)")
        except Exception as exc:
            errors.append(repr(exc))
            read.set()
        finally:
            connection.close()

    def writer():
        read.wait(10)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("INSERT INTO probe VALUES (2)")
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            written.set()
            connection.close()

    threads = [threading.Thread(target=reader_then_writer), threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM probe")
        print("ROWS", cursor.fetchone()[0], "ERRORS", errors)
    """
)


def test_embedded_sqlite_lets_two_threads_write_without_database_is_locked(tmp_path):
    """The demo's pages and in-process worker write from several threads at once.

    A transaction that reads and then writes while another thread commits used to fail at
    once with "database is locked" on SQLite, busy timeout or not.
    """
    result = run(["-c", SQLITE_UPGRADE_PROBE], {"DATA_DIR": str(tmp_path)}, timeout=60)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "ROWS 2 ERRORS []" in result.stdout, result.stdout
