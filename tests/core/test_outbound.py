"""The guarded outbound fetch: refused addresses on every hop, pinning, caps, deadline, allow."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import pytest

from apps.core import addresses
from apps.core.outbound import OutboundError, outbound_fetch, outbound_stream
from tests.listener import Listener, endless, listening, reply, trickle

MIB = 1024 * 1024


@pytest.fixture
def listener() -> Iterator[Listener]:
    with listening(
        {
            "/big-declared": reply(200, b"x" * 2048),
            "/endless": endless,
            "/trickle": trickle,
            "/missing": reply(404, b"SECRET-INTERNAL-BODY"),
            "/conditional": reply(200, b"feed", ETag='"v1"'),
        }
    ) as running:
        yield running


@pytest.fixture
def loopback_allowed(settings) -> None:  # type: ignore[no-untyped-def]
    settings.OUTBOUND_ALLOW_NETWORKS = ["127.0.0.1/32"]


REFUSED = [
    "127.0.0.1",  # loopback
    "127.8.9.10",
    "[::1]",
    "10.1.2.3",  # private
    "172.16.0.1",
    "192.168.1.1",
    "[fd12:3456::1]",  # unique local
    "169.254.169.254",  # link-local, cloud metadata
    "[fd00:ec2::254]",  # AWS metadata over IPv6
    "[fe80::1]",  # link-local
    "224.0.0.1",  # multicast
    "[ff02::1]",
    "240.0.0.1",  # reserved
    "0.0.0.0",  # unspecified
    "[::]",
    "100.64.0.1",  # carrier-grade NAT (shared address space)
    "[::ffff:127.0.0.1]",  # IPv4-mapped forms
    "[::ffff:169.254.169.254]",
    "[::ffff:10.0.0.1]",
    "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
    "[64:ff9b::a00:1]",  # NAT64 of 10.0.0.1
    "2130706433",  # 127.0.0.1 written as one number
    "0x7f.1",
]


@pytest.mark.parametrize("host", REFUSED)
def test_every_internal_address_class_is_refused_and_nothing_is_fetched(
    host: str, listener: Listener
) -> None:
    with pytest.raises(OutboundError) as refused:
        outbound_fetch(f"http://{host}:{listener.port}/metrics", max_bytes=MIB, deadline_s=5)

    assert refused.value.reason == "not_allowed"
    assert str(refused.value) == "address not allowed"
    assert listener.requests == []


def test_a_name_that_resolves_to_loopback_is_refused(listener: Listener) -> None:
    with pytest.raises(OutboundError, match="address not allowed"):
        outbound_fetch(f"http://localhost:{listener.port}/", max_bytes=MIB, deadline_s=5)

    assert listener.requests == []


def test_a_name_with_one_internal_answer_among_public_ones_is_refused(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    def mixed(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", mixed)

    with pytest.raises(OutboundError, match="address not allowed"):
        outbound_fetch(f"http://mixed.example:{listener.port}/", max_bytes=MIB, deadline_s=5)
    assert listener.requests == []


def test_open_and_closed_ports_get_the_same_refusal(listener: Listener) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    messages = []
    for port in (listener.port, closed_port):
        with pytest.raises(OutboundError) as refused:
            outbound_fetch(f"http://127.0.0.1:{port}/", max_bytes=MIB, deadline_s=5)
        messages.append((refused.value.reason, str(refused.value)))

    assert messages[0] == messages[1] == ("not_allowed", "address not allowed")


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1:70/", "http://[::1"]
)
def test_only_http_and_https_urls_are_fetched(url: str, listener: Listener) -> None:
    with pytest.raises(OutboundError) as refused:
        outbound_fetch(url, max_bytes=MIB, deadline_s=5)

    assert refused.value.reason == "invalid"
    assert listener.requests == []


def test_a_redirect_to_a_refused_address_is_refused(listener: Listener, settings) -> None:  # type: ignore[no-untyped-def]
    # Only the literal host 127.0.0.1 is allowed; "localhost" (the same machine) is not.
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    with listening(
        {"/hop": reply(302, Location=f"http://localhost:{listener.port}/secret")}
    ) as redirector:
        with pytest.raises(OutboundError, match="address not allowed"):
            outbound_fetch(f"{redirector.url}/hop", max_bytes=MIB, deadline_s=5)

        assert redirector.paths == ["/hop"]
    assert listener.requests == []


def test_a_redirect_to_cloud_metadata_is_refused_even_when_everything_is_allowed(  # type: ignore[no-untyped-def]
    listener: Listener, settings
) -> None:
    settings.OUTBOUND_ALLOW_NETWORKS = ["0.0.0.0/0", "::/0"]
    metadata = reply(301, Location="http://169.254.169.254/latest/meta-data/")
    with (
        listening({"/hop": metadata}) as redirector,
        pytest.raises(OutboundError, match="address not allowed"),
    ):
        outbound_fetch(f"{redirector.url}/hop", max_bytes=MIB, deadline_s=5)


def test_redirects_are_followed_a_bounded_number_of_times(loopback_allowed: None) -> None:
    with listening({"/loop": reply(302, Location="/loop")}) as looping:
        with pytest.raises(OutboundError, match="too many redirects"):
            outbound_fetch(f"{looping.url}/loop", max_bytes=MIB, deadline_s=5, max_redirects=3)

        assert looping.paths == ["/loop"] * 4


def test_the_allow_list_lets_a_chosen_network_through_with_conditional_get(
    listener: Listener, loopback_allowed: None
) -> None:
    first = outbound_fetch(f"{listener.url}/conditional", max_bytes=MIB, deadline_s=5)
    second = outbound_fetch(
        f"{listener.url}/conditional",
        headers={"If-None-Match": first.headers["ETag"]},
        max_bytes=MIB,
        deadline_s=5,
    )

    assert (first.status_code, first.content) == (200, b"feed")
    assert second.status_code == 200
    assert listener.requests[1][2]["If-None-Match"] == '"v1"'


@pytest.mark.parametrize("entry", ["localhost", ".localhost"])
def test_the_allow_list_lets_a_chosen_host_through(  # type: ignore[no-untyped-def]
    entry: str, listener: Listener, settings
) -> None:
    settings.OUTBOUND_ALLOW_HOSTS = [entry]

    fetched = outbound_fetch(f"http://localhost:{listener.port}/", max_bytes=MIB, deadline_s=5)

    assert fetched.content == b"hello"


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(  # type: ignore[no-untyped-def]
    listener: Listener, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.OUTBOUND_ALLOW_HOSTS = ["pinned.example"]
    answers = iter(["127.0.0.1", "10.255.255.1"])  # a rebinding DNS: the second answer differs
    lookups = []

    real_lookup = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host != "pinned.example":  # connecting to an address literal "resolves" it too
            return real_lookup(host, port, *args, **kwargs)
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)

    fetched = outbound_fetch(f"http://pinned.example:{listener.port}/", max_bytes=MIB, deadline_s=5)

    assert fetched.content == b"hello" and lookups == ["pinned.example"]
    assert listener.requests[0][2]["Host"] == f"pinned.example:{listener.port}"


def test_an_http_error_names_the_status_and_never_the_body(
    listener: Listener, loopback_allowed: None
) -> None:
    with pytest.raises(OutboundError) as failed:
        outbound_fetch(f"{listener.url}/missing", max_bytes=MIB, deadline_s=5)

    assert str(failed.value) == "HTTP 404" and failed.value.status_code == 404
    assert "SECRET" not in repr(failed.value)


def test_a_declared_length_over_the_cap_is_refused_unread(
    listener: Listener, loopback_allowed: None
) -> None:
    with pytest.raises(OutboundError) as refused:
        outbound_fetch(f"{listener.url}/big-declared", max_bytes=1024, deadline_s=5)

    assert (refused.value.reason, str(refused.value)) == ("too_large", "too large")


def test_the_byte_cap_stops_an_endless_body_while_it_streams(
    listener: Listener, loopback_allowed: None
) -> None:
    received = 0
    with (
        pytest.raises(OutboundError) as refused,
        outbound_stream(f"{listener.url}/endless", max_bytes=MIB, deadline_s=30) as answer,
    ):
        for chunk in answer.iter_bytes():
            received += len(chunk)

    # The endless body would end only at the deadline; the cap ends it first, near 1 MiB.
    assert refused.value.reason == "too_large"
    assert received <= MIB


def test_one_deadline_covers_the_whole_download_not_each_read(
    listener: Listener, loopback_allowed: None
) -> None:
    # Every read of the trickle returns within 50 ms, so a per-read timeout would never fire.
    with pytest.raises(OutboundError) as late:
        outbound_fetch(f"{listener.url}/trickle", max_bytes=MIB, deadline_s=0.5)

    assert (late.value.reason, str(late.value)) == ("timeout", "timed out")


def test_a_server_that_never_answers_times_out(loopback_allowed: None) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers
    try:
        with pytest.raises(OutboundError) as late:
            outbound_fetch(
                f"http://127.0.0.1:{silent.getsockname()[1]}/", max_bytes=MIB, deadline_s=0.5
            )
    finally:
        silent.close()

    assert late.value.reason == "timeout"


def test_authorization_is_not_sent_on_to_another_host(listener: Listener, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1", "localhost"]
    with listening(
        {"/hop": reply(307, Location=f"http://localhost:{listener.port}/landed")}
    ) as redirector:
        fetched = outbound_fetch(
            f"{redirector.url}/hop",
            headers={"Authorization": "Bearer server-key"},
            max_bytes=MIB,
            deadline_s=5,
        )

    assert fetched.redirects == (307,) and listener.paths == ["/landed"]
    assert "Authorization" not in listener.requests[0][2]


@pytest.mark.parametrize(
    ("address", "allowed"),
    [("93.184.216.34", True), ("2606:2800:220:1::1", True), ("127.0.0.1", False)],
)
def test_public_addresses_pass(address: str, allowed: bool) -> None:
    assert addresses.address_allowed(ipaddress.ip_address(address)) is allowed
