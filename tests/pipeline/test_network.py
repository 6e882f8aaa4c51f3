"""The network probe against real sockets on loopback."""

from __future__ import annotations

import socket

import pytest

from tools import network


def test_open_port_is_reachable() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert network.reachable("127.0.0.1", server.getsockname()[1], timeout=1)


def test_closed_port_is_not_reachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        assert not network.reachable("127.0.0.1", port, timeout=1)


def test_unresolvable_host_is_not_reachable() -> None:
    assert not network.reachable("registry.invalid", timeout=1)


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("true", True), ("0", False), ("", False), ("no", False)]
)
def test_offline_flag(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("PIPELINE_OFFLINE", value)
    assert network.offline_requested() is expected


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://user:pw@mirror.example:8443/v1/query?token=abc#x",
            "https://mirror.example:8443/v1/query",
        ),
        ("http://127.0.0.1/v1/query", "http://127.0.0.1/v1/query"),
        ("http://host:notaport/x", "http://host/x"),
    ],
)
def test_shown_url_drops_credentials_and_query(url: str, shown: str) -> None:
    assert network.shown_url(url) == shown
