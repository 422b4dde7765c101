"""``GET /v1/stream``: Server-Sent Events of the outbox, resumable, fanned out per process."""

from __future__ import annotations

import asyncio
import json
import queue
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from promptvault import Vault
from promptvault.config import Settings
from promptvault.server import stream as stream_module
from promptvault.server.app import create_app
from waiting import wait_until

from .live import free_port


@dataclass
class Served:
    base: str
    vault: Vault
    app: FastAPI
    key: str


def _serve(app: FastAPI) -> tuple[str, uvicorn.Server, threading.Thread]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="uvicorn to start")
    return f"http://127.0.0.1:{port}", server, thread


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[list[Served]]:
    """``served(url, n)``: n apps (each its own Vault and broadcaster) on one database."""
    running: list[tuple[uvicorn.Server, threading.Thread, Vault]] = []
    apps: list[FastAPI] = []

    def start(url: str, n: int = 1, **settings: Any) -> list[Served]:
        out = []
        key = ""
        for _ in range(n):
            vault = Vault(Settings(database_url=url, stream_heartbeat=0.2, **settings))
            app = create_app(vault)
            apps.append(app)
            if not key:
                key = app.state.keys.create("app", "runtime")[0]
            base, server, thread = _serve(app)
            running.append((server, thread, vault))
            out.append(Served(base, vault, app, key))
        return out

    yield start  # type: ignore[misc]
    for server, thread, vault in running:
        for app in apps:
            changes = getattr(app.state, "changes", None)
            if changes is not None:  # end open streams, as serve's shutdown does
                changes.loop.call_soon_threadsafe(changes.close)
        server.should_exit = True
        thread.join(15)
        vault.close()


@dataclass
class Reader:
    """Reads one SSE stream in a thread; frames and comments land in queues."""

    events: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)
    comments: queue.Queue[str] = field(default_factory=queue.Queue)
    ended: threading.Event = field(default_factory=threading.Event)
    error: list[BaseException] = field(default_factory=list)
    status: list[int] = field(default_factory=list)

    def next_event(self, timeout: float = 30) -> dict[str, Any]:
        return self.events.get(timeout=timeout)


def read_stream(
    url: str, headers: dict[str, str], *, client: httpx.Client | None = None
) -> tuple[Reader, threading.Thread]:
    reader = Reader()

    def run() -> None:
        own = client or httpx.Client(timeout=httpx.Timeout(30, read=60))
        try:
            with own.stream("GET", url, headers=headers) as response:
                reader.status.append(response.status_code)
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if line.startswith(":"):
                        reader.comments.put(line)
                    elif not line:
                        if "data" in fields:
                            data = json.loads(fields["data"])
                            assert fields["id"] == str(data["id"])
                            assert fields["event"] == data["type"]
                            reader.events.put(data)
                        fields = {}
                    else:
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
        except BaseException as exc:  # surfaced by the test through reader.error
            reader.error.append(exc)
        finally:
            reader.ended.set()
            if client is None:
                own.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return reader, thread


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _connected(reader: Reader) -> None:
    assert reader.comments.get(timeout=30) == ": connected"


def test_a_change_reaches_the_stream_and_a_resume_misses_nothing(
    served: Any, sqlite_url: str
) -> None:
    (one,) = served(sqlite_url)
    one.vault.push("team/a", template="v1", author="alice")
    reader, _ = read_stream(f"{one.base}/v1/stream?duration=30", _bearer(one.key))
    _connected(reader)
    one.vault.push("team/a", template="v2", author="alice")
    one.vault.set_label("team/a", "production", 2, actor="bob")
    pushed, moved = reader.next_event(), reader.next_event()
    assert pushed["type"] == "version.pushed" and pushed["payload"]["version"] == 2
    assert moved["type"] == "label.moved" and moved["payload"]["new_version"] == 2
    assert moved["actor"] == "bob" and moved["id"] > pushed["id"]
    # Idle: comment heartbeats keep the connection alive.
    assert reader.comments.get(timeout=30) == ": heartbeat"

    # A client that was away resumes from its last id and gets what it missed, in order.
    one.vault.set_label("team/a", "staging", 1, actor="bob")
    one.vault.delete_label("team/a", "staging", actor="bob")
    headers = {**_bearer(one.key), "Last-Event-ID": str(moved["id"])}
    resumed, _ = read_stream(f"{one.base}/v1/stream?duration=30", headers)
    assert [resumed.next_event()["type"] for _ in range(2)] == ["label.moved", "label.removed"]
    # ?after= does the same, and a prefix filter keeps only matching prompts.
    one.vault.push("other", template="x", author="alice")
    filtered, _ = read_stream(
        f"{one.base}/v1/stream?after=0&prefix=other&duration=30", _bearer(one.key)
    )
    first = filtered.next_event()
    assert first["prompt"] == "other" and first["type"] == "version.pushed"


def test_a_new_stream_starts_at_the_outbox_head_not_the_watchers(
    served: Any, sqlite_url: str
) -> None:
    # The watcher polls rarely here: it has not read the first push when the stream opens.
    (one,) = served(sqlite_url, stream_poll_interval=3600)
    one.vault.push("team/a", template="v1", author="alice")
    reader, _ = read_stream(f"{one.base}/v1/stream?duration=30", _bearer(one.key))
    _connected(reader)
    one.vault.push("team/a", template="v2", author="alice")
    changes = one.app.state.changes
    asyncio.run_coroutine_threadsafe(changes.refresh(), changes.loop).result(30)
    pushed = reader.next_event()
    assert pushed["type"] == "version.pushed" and pushed["payload"]["version"] == 2


def test_a_resume_from_beyond_the_ring_reads_the_outbox(
    served: Any, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_module, "_RING", 2)
    monkeypatch.setattr(stream_module, "_PAGE", 3)  # several catch-up pages
    (one,) = served(sqlite_url)
    live, _ = read_stream(f"{one.base}/v1/stream?duration=30", _bearer(one.key))
    _connected(live)
    for i in range(4):
        one.vault.push(f"p{i}", template="x", author="alice")  # 8 events: beyond the ring
    assert [live.next_event()["id"] for _ in range(8)] == list(range(1, 9))
    late, _ = read_stream(f"{one.base}/v1/stream?after=1&duration=30", _bearer(one.key))
    assert [late.next_event()["id"] for _ in range(7)] == list(range(2, 9))


def test_the_stream_ends_after_its_duration_and_checks_input(served: Any, sqlite_url: str) -> None:
    (one,) = served(sqlite_url)
    response = httpx.get(f"{one.base}/v1/stream?duration=0.3", headers=_bearer(one.key))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"
    assert response.text.startswith("retry: 2000\n: connected\n\n")
    bad = httpx.get(f"{one.base}/v1/stream", headers={**_bearer(one.key), "Last-Event-ID": "seven"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["field"] == "Last-Event-ID"
    assert httpx.get(f"{one.base}/v1/stream?duration=0").status_code == 401


def test_a_ui_session_may_stream(served: Any, sqlite_url: str) -> None:
    (one,) = served(sqlite_url)
    viewer = one.app.state.keys.create("ui-viewer", "viewer")[0]
    with httpx.Client(base_url=one.base, timeout=30) as browser:
        page = browser.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        signed = browser.post(
            "/login", data={"api_key": viewer, "csrf": csrf.group(1), "next": "/"}
        )
        assert signed.status_code in (200, 303)
        answer = browser.get("/v1/stream?duration=0")
        assert answer.status_code == 200 and answer.text.startswith("retry:")
        browser.cookies.clear()
        assert browser.get("/v1/stream?duration=0").status_code == 401


def _fan_in(servers: list[Served]) -> None:
    a, b = servers
    on_a, _ = read_stream(f"{a.base}/v1/stream?duration=30", _bearer(a.key))
    on_b, _ = read_stream(f"{b.base}/v1/stream?duration=30", _bearer(b.key))
    _connected(on_a)
    _connected(on_b)
    a.vault.push("shared", template="v1", author="alice")  # through one process
    b.vault.push("shared", template="v2", author="bob")  # through the other
    b.vault.set_label("shared", "production", 2, actor="bob")
    for reader in (on_a, on_b):
        seen = [reader.next_event() for _ in range(4)]
        assert [e["type"] for e in seen] == [
            "version.pushed",
            "label.moved",
            "version.pushed",
            "label.moved",
        ]
        assert [e["id"] for e in seen] == sorted(e["id"] for e in seen)


def test_two_processes_on_sqlite_see_every_change(served: Any, sqlite_url: str) -> None:
    _fan_in(served(sqlite_url, 2))


def test_two_processes_on_postgres_see_every_change(served: Any, postgres_url: str) -> None:
    servers = served(postgres_url, 2, stream_poll_interval=30.0)  # only NOTIFY wakes them
    for one in servers:
        wait_until(lambda one=one: _listening(one), what="LISTEN to be up")
    _fan_in(servers)


def _listening(one: Served) -> bool:
    changes = getattr(one.app.state, "changes", None)
    if changes is None:  # the broadcaster starts with the first stream
        httpx.get(f"{one.base}/v1/stream?duration=0", headers=_bearer(one.key))
        return False
    return bool(changes._listener is not None and changes._listener.listening.is_set())


def test_serve_keeps_streams_past_the_header_timeout_and_ends_them_on_shutdown(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .live import live_server

    monkeypatch.setenv("PROMPTVAULT_STREAM_HEARTBEAT", "0.1")
    with live_server(tmp_path, "--header-timeout", "0.3") as server:
        reader, thread = read_stream(f"{server.base}/v1/stream", _bearer(server.admin_key))
        _connected(reader)
        # Ten heartbeats: the stream outlives the 0.3 s header timeout by far.
        for _ in range(10):
            assert reader.comments.get(timeout=30) == ": heartbeat"
        assert not reader.ended.is_set()
        server.proc.terminate()
        # The server ends the stream itself (a complete response, not a cut connection)
        # instead of holding its graceful shutdown open for it.
        assert reader.ended.wait(30)
        assert reader.error == [] and reader.status == [200]
        thread.join(5)
        assert server.proc.wait(30) in (0, -15)  # uvicorn re-raises SIGTERM once done
