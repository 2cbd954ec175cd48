"""The services profile for a bench that measures the real path, not an in-process stand-in.

`service_stack(...)` creates a throw-away PostgreSQL database and empties a spare Redis db,
yields the environment that points the suite at them, starts the suite's own processes (daphne,
`celery -A config worker`) as subprocesses in their own process groups, and on the way out (also
on error) stops every process group, drops the database and empties the Redis db again.

`ServiceStack.set_up` migrates the database and runs a bench's set-up code in `manage.py shell`
(engine_load, engine_overload); `ServiceStack.manage` runs any other management command (fuzz).
`ServiceStack.web_start` is the one daphne start-up of the benches (engine_load, fuzz,
sentiment): one process on a free port, or N processes sharing one listening socket (each
`daphne --fd`, the kernel spreading connections between them), as a deployment on more cores
would run it (docs/serving.md).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import redis

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"


def services_unreachable(postgres_url: str, redis_url: str) -> str | None:
    """Why PostgreSQL or Redis cannot be used (None when both answer)."""
    problems = []
    try:
        with psycopg.connect(postgres_url, connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:
        problems.append(f"PostgreSQL unreachable at {postgres_url} ({type(exc).__name__})")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as exc:
        problems.append(f"Redis unreachable at {redis_url} ({type(exc).__name__})")
    return "; ".join(problems) or None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class ServiceStack:
    """The environment of the services profile, and the processes started in it."""

    env: dict[str, str]
    log_dir: Path
    database_url: str = ""
    postgres_version: str = ""
    redis_version: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # A web server of N processes: its name -> the names of its processes.
    groups: dict[str, list[str]] = field(default_factory=dict)

    def start(
        self,
        name: str,
        args: list[str],
        extra_env: dict[str, str] | None = None,
        pass_fds: tuple[int, ...] = (),
    ) -> subprocess.Popen[bytes]:
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                args,
                cwd=ROOT,
                env={**self.env, **(extra_env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: prefork children stop with it
                pass_fds=pass_fds,
            )
        self.processes[name] = proc
        return proc

    def manage(self, *args: str) -> str:
        """`manage.py <args>` in the stack's environment; what it printed. A failure raises with
        the end of its output."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"manage.py {args[0]} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
            )
        return done.stdout

    def set_up(self, code: str) -> str:
        """Migrate the stack's database, then run `code` in `manage.py shell`; what follows
        "ready " on the last line that starts with it (the code prints that when it is done)."""
        self.manage("migrate", "--noinput")
        printed = self.manage("shell", "-c", code)
        line = [x for x in printed.splitlines() if x.startswith("ready ")][-1]
        return line.removeprefix("ready ")

    def log(self, name: str) -> str:
        """The log of a process, or of every process of a web server started as `name`."""
        logs = []
        for member in self.groups.get(name, [name]):
            path = self.log_dir / f"{member}.log"
            logs.append(path.read_text(errors="replace") if path.exists() else "")
        return "\n".join(logs)

    def pids(self, name: str) -> list[int]:
        """The process ids of a process, or of every process of a web server."""
        return [self.processes[m].pid for m in self.groups.get(name, [name]) if m in self.processes]

    def web_start(
        self,
        name: str = "web",
        *,
        extra_env: dict[str, str] | None = None,
        processes: int = 1,
        ready_path: str = "",
        timeout_s: float = 180,
    ) -> str:
        """daphne serving config.asgi, as bin/services runs it; returns its base URL once every
        process listens (and `ready_path`, if given, answers 200). With processes > 1, N daphne
        processes accept on one socket bound here (`--fd`)."""
        if processes < 1:
            raise ValueError("a web server needs at least one process")
        app = "config.asgi:application"
        daphne = [sys.executable, "-m", "daphne"]
        listener: socket.socket | None = None
        members = [name] if processes == 1 else [f"{name}.{i}" for i in range(processes)]
        if processes > 1:
            extra_env = {**(extra_env or {}), "LOG_LEVEL": "INFO"}
        self.groups[name] = members
        try:
            if processes == 1:
                port = free_port()
                self.start(name, [*daphne, "-b", "127.0.0.1", "-p", str(port), app], extra_env)
            else:
                listener = socket.socket()
                listener.bind(("127.0.0.1", 0))
                listener.listen(1024)
                listener.set_inheritable(True)
                port = int(listener.getsockname()[1])
                fd = listener.fileno()
                for member in members:
                    self.start(member, [*daphne, "--fd", str(fd), app], extra_env, (fd,))
        finally:
            if listener is not None:
                listener.close()  # the daphne processes hold their own copies
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout_s
        waiting = list(members)
        while waiting and time.monotonic() < deadline:
            for member in list(waiting):
                if self.processes[member].poll() is not None:
                    raise RuntimeError(f"daphne {member} exited:\n{self.log(member)[-3000:]}")
                if (processes == 1 and _accepts(port)) or "Listening on" in self.log(member):
                    # On a shared socket the port accepts before every process is up: each
                    # says so in its log (daphne logs at INFO; web_start sets LOG_LEVEL=INFO).
                    waiting.remove(member)
            time.sleep(0.2)
        while not waiting and ready_path and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(base + ready_path, timeout=5) as response:
                    if response.status == 200:
                        return base
            except OSError:
                time.sleep(0.5)
        if not waiting and not ready_path:
            return base
        raise RuntimeError(f"daphne did not start:\n{self.log(name)[-3000:]}")

    def worker_start(
        self, name: str, *, queues: str, concurrency: int, torch_threads: int
    ) -> subprocess.Popen[bytes]:
        """`celery -A config worker` with a prefork pool; returns once it logs that it is ready."""
        threads = str(torch_threads)
        proc = self.start(
            name,
            [
                *(sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues),
                *("-c", str(concurrency), "--pool", "prefork", "-n", f"{name}@%h"),
                *("--without-mingle", "--without-gossip", "-l", "INFO"),
            ],
            # torch sizes its intra-op pool from these when each pool process first imports it.
            {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads},
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if " ready." in self.log(name):
                return proc
            time.sleep(0.3)
        raise RuntimeError(f"celery worker {name} did not start:\n{self.log(name)[-3000:]}")

    def stop(self, name: str) -> None:
        """Stop a process, or every process of a web server started as `name`."""
        for member in self.groups.pop(name, []):
            if member != name:
                self.stop(member)
        proc = self.processes.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        try:  # prefork children that outlived their parent
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)


@contextmanager
def service_stack(
    *, postgres_url: str, redis_url: str, workdir: Path, prefix: str
) -> Iterator[ServiceStack]:
    """A fresh database `<prefix>_<pid>` and an empty Redis db, removed again on the way out."""

    db_name = f"{prefix}_{os.getpid()}"
    database_url = urlparse(postgres_url)._replace(path=f"/{db_name}").geturl()
    broker = redis.Redis.from_url(redis_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')
        row = conn.execute("show server_version").fetchone()
        postgres_version = str(row[0]) if row else "?"
    broker.flushdb()
    data_dir = workdir / "stack"
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CELERY_TASK_ALWAYS_EAGER", "CELERY_EMBEDDED_WORKER", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "CELERY_EMBEDDED_WORKER": "0",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "DATA_DIR": str(data_dir),
            "ML_MODEL_DIR": str(data_dir / "models"),
            "ML_INDEX_DIR": str(data_dir / "indices"),
            "DEBUG": "0",  # as served: no SQL kept per query, no static finders
            "SECRET_KEY": "bench-only",
            "EMAIL_URL": "",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
        }
    )
    stack = ServiceStack(
        env=env,
        database_url=database_url,
        log_dir=data_dir / "logs",
        postgres_version=postgres_version,
        redis_version=str(broker.info().get("redis_version", "?")),
    )
    try:
        yield stack
    finally:
        stack.stop_all()
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        broker.flushdb()
