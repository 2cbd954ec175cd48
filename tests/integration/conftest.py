"""Real processes against real services: PostgreSQL, Redis, a Celery worker, an ASGI server.

Each test session gets its own PostgreSQL database and Redis db number, migrated once (into a
template that the tests needing a database of their own copy, instead of migrating again); the
fixtures start `celery worker` and `daphne` as subprocesses with the services profile. Outside
CI these tests skip when PostgreSQL or Redis is unreachable; with CI=true they fail instead.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ["TEST_REDIS_URL"]  # set by tests/_env.py (its default, per xdist worker)


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2
        ):
            return True
    except OSError:
        return False


def require_services() -> None:
    missing = [
        name
        for name, url, port in (("PostgreSQL", PG_URL, 5432), ("Redis", REDIS_URL, 6379))
        if not _reachable(url, port)
    ]
    if missing:
        message = f"{' and '.join(missing)} unreachable ({PG_URL}, {REDIS_URL})"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " - integration tests must run in CI")
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    """The environment of one integration session and the processes started in it."""

    env: dict[str, str]
    data_dir: Path
    database_url: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    base_url: str = ""
    logs: list[Path] = field(default_factory=list)
    # The session's freshly migrated database, which no test writes to: copied by own_site().
    template: str = ""

    def manage(self, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log_path = self.data_dir / f"{name}.log"
        self.logs.append(log_path)
        proc = subprocess.Popen(
            list(args),
            cwd=ROOT,
            env=self.env,
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(proc)
        return proc

    def start_worker(
        self, queues: str = "inference,training", name: str = "worker"
    ) -> subprocess.Popen[bytes]:
        proc = self.start(
            name,
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queues,
            "-c",
            "1",
            "--pool",
            "solo",
            "-n",
            f"{name}@%h",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "INFO",
        )
        self.wait_for_log(name, "ready", timeout=120)
        return proc

    def start_web(self) -> str:
        port = free_port()
        self.start(
            "web",
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "config.asgi:application",
        )
        self.base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return self.base_url
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("daphne did not start:\n" + self.log("web"))

    def log(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_for_log(self, name: str, needle: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log(name):
                return
            time.sleep(0.3)
        raise TimeoutError(f"{name} never logged {needle!r}:\n{self.log(name)[-3000:]}")

    def stop_all(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.processes.clear()


def sentiment_model_ready(stack: Stack, tmp_path: Path) -> None:
    """A production sentiment model in the stack: trained, registered and promoted as a 4-step
    model on 120 demo sentences the first time a test of the session asks for one (half a
    minute on 2 cores), reused by the tests after it while its artifact is still there."""
    served = db_query(
        stack.database_url,
        "SELECT artifact_path FROM mlops_modelversion WHERE name = 'sentiment' AND is_production",
    )
    if served and Path(served[0][0]).is_dir():
        return
    tiny = tmp_path / "tiny.csv"
    demo = Path(__file__).resolve().parents[2] / "apps" / "sentiment" / "data"
    lines = (demo / "demo_sentences.csv").read_text().splitlines()
    tiny.write_text("\n".join(lines[:121]) + "\n")
    trained = stack.manage(
        "sentiment_train", "--data", str(tiny), "--epochs", "1", "--max-steps", "4",
        "--max-length", "32",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stdout + trained.stderr


def _admin_url(url: str) -> str:
    parsed = urlparse(url)
    return parsed._replace(path="/postgres").geturl()


def database_create(name: str, template: str = "") -> str:
    """Create the database `name`, empty or a copy of `template` (a file copy: well under a
    second, where migrating takes 10 to 20 s); its URL."""
    import psycopg

    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(_admin_url(PG_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    return urlparse(PG_URL)._replace(path=f"/{name}").geturl()


def database_drop(name: str) -> None:
    import psycopg

    with psycopg.connect(_admin_url(PG_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def own_site(stack: Stack, name: str) -> Iterator[Stack]:
    """A stack on a database of its own, migrated and empty (a copy of the session's template),
    with its own data folder, whose tasks run in the process that queues them (as bin/demo's
    single process does); gone afterwards. For the demo's data, which the session's shared
    database must not get."""
    import redis

    db_name = f"textsuite_{name}_{uuid.uuid4().hex[:8]}"
    database_url = database_create(db_name, template=stack.template)
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
    site = Stack(env=env, data_dir=data_dir, database_url=database_url, template=stack.template)
    try:
        yield site
    finally:
        site.stop_all()
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
        database_drop(db_name)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A migrated PostgreSQL database + Redis db for the session; processes are per test."""
    require_services()
    db_name = f"textsuite_it_{uuid.uuid4().hex[:8]}"
    template = f"{db_name}_migrated"
    template_url = database_create(template)
    data_dir = tmp_path_factory.mktemp("stack")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CELERY_TASK_ALWAYS_EAGER", "CELERY_EMBEDDED_WORKER", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        {
            "DATABASE_URL": template_url,
            "REDIS_URL": REDIS_URL,
            "CELERY_BROKER_URL": REDIS_URL,
            "DATA_DIR": str(data_dir),
            "ML_MODEL_DIR": str(data_dir / "models"),
            "ML_INDEX_DIR": str(data_dir / "indices"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
            "EMAIL_URL": "",
            "SECRET_KEY": "integration-tests",
            "CELERY_TASK_ALWAYS_EAGER": "0",
        }
    )
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    database_url = database_create(db_name, template=template)
    env["DATABASE_URL"] = database_url
    the_stack = Stack(env=env, data_dir=data_dir, database_url=database_url, template=template)
    try:
        yield the_stack
    finally:
        the_stack.stop_all()
        database_drop(db_name)
        database_drop(template)


@pytest.fixture
def running(stack: Stack) -> Iterator[Stack]:
    """The stack with processes stopped again after the test, and its environment as it was
    before: a test that points EMAIL_URL at its own SMTP server (or allows an outbound network)
    must not leave that to the tests after it."""
    saved = dict(stack.env)
    yield stack
    stack.stop_all()
    stack.env.clear()
    stack.env.update(saved)


# Straight to the tables: a `manage.py shell` for this took 2 to 5 s after each of the support
# tests. No page of the finished test is left to be told (its browser is closed), so the
# closing announcements `conversation_close` would send have no one to reach.
SUPPORT_CHATS_CLOSE = (
    "UPDATE support_conversation SET status = 'closed', closed_at = now() WHERE status <> 'closed'"
)
SUPPORT_AGENTS_OFFLINE = "UPDATE support_agentpresence SET connections = 0"


@pytest.fixture
def support_tidy(running: Stack) -> Iterator[Stack]:
    """The running stack; after the test every support conversation still open is closed and
    every agent counts as offline.

    The database is shared by the session: later tests must not find our chats waiting in the
    queue or open with an agent, nor an agent online whose page closed but whose socket's
    disconnect has not been handled yet (or whose page a test left open).
    """
    yield running
    db_query(running.database_url, SUPPORT_CHATS_CLOSE)
    db_query(running.database_url, SUPPORT_AGENTS_OFFLINE)


def db_query(database_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one SQL statement on the stack's database; the rows it returns, if any."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def sign_in(page: Any, base: str, username: str, password: str, next_path: str) -> None:
    """Sign in through the login form of a browser page, then go on to `next_path`."""
    page.goto(f"{base}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


@contextmanager
def signed_in_client(base: str, username: str, password: str) -> Iterator[httpx.Client]:
    """An HTTP client signed in through the login form (no browser), redirects not followed."""
    with httpx.Client(base_url=base, timeout=60) as client:
        page = client.get("/accounts/login/")
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert found, page.text
        done = client.post(
            "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": found[1]},
        )
        assert done.status_code == 302, done.text
        yield client


@contextmanager
def chromium_launched() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (no browser download); without it the test fails
    in CI and is skipped elsewhere."""
    import shutil

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (bin/setup --dev installs it)")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def chromium() -> Iterator[object]:
    """A browser per test: Playwright's sync API keeps an event loop running while it is open,
    which would break the asyncio websocket clients of the tests that follow."""
    with chromium_launched() as browser:
        yield browser
