"""The one guarded HTTP fetch for addresses that users give: feeds, knowledge-base imports, LLMs.

Every hop, redirects included, is resolved here and refused when any address the name resolves
to is not a public one (loopback, private, link-local, multicast, reserved, unspecified, cloud
metadata, also inside IPv4-mapped/6to4/NAT64 IPv6 forms). The connection then goes to the address
that was checked, so a DNS answer that changes between check and connect (rebinding) cannot
reach an internal service; TLS still verifies the host name. One deadline covers the whole
fetch (DNS, connect, every read), the body is capped while it streams, and every failure is an
OutboundError whose message is safe to show: it never carries what the server sent.

On premise, `OUTBOUND_ALLOW_HOSTS` (names, ".suffix" for a domain) and `OUTBOUND_ALLOW_NETWORKS`
(CIDR ranges) let chosen internal addresses through; cloud metadata addresses never pass.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from .addresses import IPAddress, address_allowed, host_allowed

ALLOWED_SCHEMES = ("http", "https")
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
# getaddrinfo has no timeout of its own; a few threads let the deadline cover name lookups.
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="outbound-dns")


class OutboundError(Exception):
    """A refused or failed fetch. `reason` is one of: invalid, not_allowed, too_large, timeout,
    http, connect, redirects, unreadable; str() is a short message safe to show a user."""

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: str | None = None,
        location: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.status_code = status_code
        self.retry_after = retry_after  # the server's Retry-After header, for an HTTP error
        # Where a redirect past `max_redirects` pointed (absolute), never in the message: a
        # caller with max_redirects=0 follows redirects itself (a crawl that keeps to a host).
        self.location = location


def _not_allowed() -> OutboundError:
    # The same words for every refused address and port: a message must not scan a network.
    return OutboundError("not_allowed", "address not allowed")


# == one hop =======================================================================================
class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise OutboundError("timeout", "timed out")
        return left

    def clamp(self, timeout: float | None) -> float:
        # A tiny positive value rather than an error here: httpcore turns the socket's timeout
        # into its own exception, which the fetch maps to "timed out".
        left = max(self.at - time.monotonic(), 0.001)
        return left if timeout is None else min(timeout, left)


@dataclass(frozen=True)
class _Target:
    url: httpx.URL
    host: str
    address: str


def _url_check(url: str | httpx.URL) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except (httpx.InvalidURL, ValueError, TypeError, UnicodeError):
        raise OutboundError("invalid", "not a valid URL") from None
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise OutboundError("invalid", "only http:// and https:// addresses can be fetched")
    if not parsed.host:
        raise OutboundError("invalid", "not a valid URL")
    if port is not None and not 0 < port < 65536:
        raise OutboundError("invalid", "not a valid URL")
    return parsed


def _resolve(host: str, port: int, deadline: _Deadline) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    future = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=deadline.remaining())
    except FutureTimeout:
        raise OutboundError("timeout", "timed out") from None
    except (OSError, UnicodeError):
        raise OutboundError("connect", "could not resolve the host name") from None
    addresses: list[IPAddress] = []
    for info in infos:
        # A scoped IPv6 address comes back as "fe80::1%eth0"; the scope is not part of it.
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise OutboundError("connect", "could not resolve the host name")
    return addresses


def _target(url: httpx.URL, deadline: _Deadline, trusted_hosts: Iterable[str]) -> _Target:
    host = url.host
    port = url.port or (443 if url.scheme == "https" else 80)
    trusted = host_allowed(host, trusted_hosts)
    addresses = _resolve(host, port, deadline)
    # Every answer must pass, not just one: which one a connection would get is the DNS's choice.
    if not all(address_allowed(a, host_trusted=trusted) for a in addresses):
        raise _not_allowed()
    return _Target(url=url, host=host, address=str(addresses[0]))


def outbound_url_check(url: str, *, deadline_s: float = 5.0) -> None:
    """Raise OutboundError unless `url` is http(s) and its host resolves only to addresses a
    fetch may reach now; fetches nothing. For a clear answer when a user saves an address;
    every fetch checks again (names can change what they resolve to)."""
    _target(_url_check(url), _Deadline(deadline_s), ())


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every wait ends at the fetch's deadline at the latest."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._deadline.clamp(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._deadline.clamp(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, self._deadline.clamp(timeout))
        return _DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects the checked host name to the checked address only (no second DNS lookup)."""

    def __init__(self, target: _Target, deadline: _Deadline) -> None:
        self._target = target
        self._deadline = deadline
        self._sync = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if host.strip("[]").lower() != self._target.host.strip("[]").lower():
            raise httpcore.ConnectError("not the checked host")
        stream = self._sync.connect_tcp(
            self._target.address,
            port,
            timeout=self._deadline.clamp(timeout),
            local_address=local_address,
            socket_options=socket_options,
        )
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("no unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _PinnedTransport(httpx.HTTPTransport):
    def __init__(self, target: _Target, deadline: _Deadline) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=1,
            network_backend=_PinnedBackend(target, deadline),
        )


def _mapped(exc: Exception) -> OutboundError:
    """The safe message for an httpx failure (its text may name addresses or echo data)."""
    if isinstance(exc, OutboundError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return OutboundError("timeout", "timed out")
    if isinstance(exc, httpx.ConnectError):
        return OutboundError("connect", "could not connect")
    return OutboundError("unreadable", "the answer could not be read")


# == the fetch =====================================================================================
class OutboundResponse:
    """The final answer of a guarded fetch (2xx, 304 or another non-redirect below 400); its
    body is read through `iter_bytes`/`iter_lines`/`read`, which keep the cap and deadline."""

    def __init__(
        self,
        response: httpx.Response,
        *,
        deadline: _Deadline,
        max_bytes: int,
        redirects: tuple[int, ...],
    ) -> None:
        self._response = response
        self._deadline = deadline
        self._max_bytes = max_bytes
        self.status_code = response.status_code
        self.headers = response.headers
        self.url = str(response.url)
        self.redirects = redirects  # the status codes of the redirects followed, in order

    def iter_bytes(self) -> Iterator[bytes]:
        received = 0
        try:
            # Decoded bytes are counted, so a gzip bomb stops at the cap as well.
            for chunk in self._response.iter_bytes():
                received += len(chunk)
                if received > self._max_bytes:
                    raise OutboundError("too_large", "too large")
                self._deadline.remaining()
                yield chunk
        except httpx.HTTPError as exc:
            raise _mapped(exc) from None

    def iter_lines(self) -> Iterator[str]:
        pending = b""
        for chunk in self.iter_bytes():
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.rstrip(b"\r").decode("utf-8", "replace")
        if pending:
            yield pending.decode("utf-8", "replace")

    def read(self) -> bytes:
        return b"".join(self.iter_bytes())


@dataclass(frozen=True)
class Fetched:
    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str  # where it was read from, after redirects
    redirects: tuple[int, ...]  # the status codes of the redirects followed


def _redirect_headers(
    headers: dict[str, str], old: httpx.URL, new: httpx.URL, *, keep_body: bool
) -> dict[str, str]:
    same_origin = (old.scheme, old.host, old.port) == (new.scheme, new.host, new.port)
    dropped = {"host"} | (set() if same_origin else {"authorization", "cookie"})
    if not keep_body:
        dropped |= {"content-type", "content-length"}
    return {k: v for k, v in headers.items() if k.lower() not in dropped}


@contextmanager
def outbound_stream(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    max_bytes: int,
    deadline_s: float,
    max_redirects: int = MAX_REDIRECTS,
    trusted_hosts: Iterable[str] = (),
) -> Iterator[OutboundResponse]:
    """Open a guarded request and yield its final answer; raises OutboundError (an HTTP status
    of 400 and above is one too, with `status_code` and `retry_after` set).

    `trusted_hosts` are names the operator configured in the environment (LLM_BASE_URL's host):
    they may resolve to internal addresses, like OUTBOUND_ALLOW_HOSTS."""
    deadline = _Deadline(deadline_s)
    current = _url_check(url)
    sent = dict(headers or {})
    trusted = tuple(trusted_hosts)
    redirects: list[int] = []
    while True:
        target = _target(current, deadline, trusted)
        client = httpx.Client(
            transport=_PinnedTransport(target, deadline),
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(deadline.remaining()),
        )
        try:
            try:
                request = client.build_request(method, current, headers=sent, json=json)
                response = client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise _mapped(exc) from None
            try:
                status = response.status_code
                location = response.headers.get("Location")
                if status in REDIRECT_CODES and location:
                    if len(redirects) >= max_redirects:
                        try:
                            pointed: str | None = str(current.join(location))
                        except (httpx.InvalidURL, ValueError, UnicodeError):
                            pointed = None
                        raise OutboundError("redirects", "too many redirects", location=pointed)
                    redirects.append(status)
                    try:
                        following = _url_check(current.join(location))
                    except (httpx.InvalidURL, ValueError, UnicodeError):
                        raise OutboundError("invalid", "not a valid URL") from None
                    keep_body = status in (307, 308)
                    if not keep_body:
                        method, json = ("GET" if method != "HEAD" else "HEAD"), None
                    sent = _redirect_headers(sent, current, following, keep_body=keep_body)
                    current = following
                    continue
                if status >= 400:
                    raise OutboundError(
                        "http",
                        f"HTTP {status}",
                        status_code=status,
                        retry_after=response.headers.get("Retry-After"),
                    )
                length = response.headers.get("Content-Length", "")
                if length.isdigit() and int(length) > max_bytes:
                    raise OutboundError("too_large", "too large")
                yield OutboundResponse(
                    response,
                    deadline=deadline,
                    max_bytes=max_bytes,
                    redirects=tuple(redirects),
                )
                return
            finally:
                response.close()
        finally:
            client.close()


def outbound_fetch(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    max_bytes: int,
    deadline_s: float,
    max_redirects: int = MAX_REDIRECTS,
    trusted_hosts: Iterable[str] = (),
) -> Fetched:
    """The whole answer of a guarded request (see `outbound_stream`). Conditional GET: pass
    If-None-Match / If-Modified-Since in `headers`; a 304 comes back with an empty body."""
    with outbound_stream(
        url,
        method=method,
        headers=headers,
        json=json,
        max_bytes=max_bytes,
        deadline_s=deadline_s,
        max_redirects=max_redirects,
        trusted_hosts=trusted_hosts,
    ) as response:
        content = response.read()
        return Fetched(
            status_code=response.status_code,
            headers=response.headers,
            content=content,
            url=response.url,
            redirects=response.redirects,
        )
