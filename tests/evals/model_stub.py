"""A loopback model server for tests and ``bench/evals.py``: OpenAI-compatible
``POST /v1/chat/completions`` and Anthropic ``POST /v1/messages``, spoken over real HTTP/1.1
(keep-alive) by a small asyncio server in a thread, so the real ``openai`` and
``anthropic`` packages are on the other side.

The answer text comes from ``reply(body)`` (default: echo the last user message). Faults
are queued with :meth:`ModelStub.fail` (status, optional Retry-After) or
:meth:`ModelStub.hang` (no answer until the stub closes: a client timeout); ``delay`` makes
every answer take that long.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ModelStub", "last_user_text"]


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the request's last user message."""
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return "".join(part.get("text", "") for part in content)
            return str(content)
    return ""


@dataclass
class _Fault:
    status: int | None  # None: hang
    retry_after: str | None = None


@dataclass
class ModelStub:
    """Start with ``with ModelStub() as stub:``; ``stub.url`` is the base URL (``.../v1``
    for OpenAI clients, the bare origin for Anthropic's)."""

    reply: Callable[[dict[str, Any]], str] = last_user_text
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    record: bool = True
    served: int = 0
    connections: int = 0  # accepted so far
    open_connections: int = 0  # not yet closed by either side
    _faults: deque[_Fault] = field(default_factory=deque)
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.base_events.Server | None = None
    _thread: threading.Thread | None = None
    _closing: asyncio.Event | None = None
    port: int = 0
    _hang_after: int | None = None
    _hold_after: int | None = None
    _released: asyncio.Event | None = None

    # --- control ------------------------------------------------------------------------

    def fail(self, status: int, *, retry_after: str | None = None, times: int = 1) -> None:
        """The next ``times`` requests get ``status`` (with ``Retry-After`` when given)."""
        for _ in range(times):
            self._faults.append(_Fault(status, retry_after))

    def hang_after(self, served: int | None) -> None:
        """Every request after the first ``served`` answers hangs (a model gone quiet);
        None answers again."""
        self._hang_after = served

    def hold(self, after: int = 0) -> None:
        """Every request after the first ``after`` answers waits until :meth:`release`
        (then all of them are answered): a model that is slow for as long as a test says."""
        # Set here, at once: a request arriving right after this call is already held.
        self._released = asyncio.Event()  # bound to the stub's loop when first awaited
        self._hold_after = after

    def release(self) -> None:
        """Answer the held requests, and hold no more."""
        assert self._loop is not None

        def go() -> None:
            self._hold_after = None
            if self._released is not None:
                self._released.set()

        self._loop.call_soon_threadsafe(go)

    def hang(self, times: int = 1) -> None:
        """The next ``times`` requests get no answer (until the stub closes)."""
        for _ in range(times):
            self._faults.append(_Fault(None))

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.origin}/v1"

    # --- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> ModelStub:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            self._closing = asyncio.Event()
            server = loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=512)
            )
            self._server = server
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            server.close()
            # Connections still open (keep-alive, hung requests) end before the loop does.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name="model-stub", daemon=True)
        self._thread.start()
        ready.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        loop = self._loop
        assert loop is not None and self._thread is not None
        closing = self._closing
        assert closing is not None
        loop.call_soon_threadsafe(closing.set)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=10)

    # --- HTTP ---------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if self.record:
                    self.headers.append(headers)
                status, payload, extra = await self._answer(method, path, body)
                data = json.dumps(payload).encode()
                out = [
                    f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}",
                    "Content-Type: application/json",
                    f"Content-Length: {len(data)}",
                    *(f"{k}: {v}" for k, v in extra.items()),
                ]
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self.open_connections -= 1
            writer.close()

    async def _answer(
        self, method: str, path: str, raw: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        body = json.loads(raw or b"{}")
        if self.record:
            self.requests.append(body)
            self.paths.append(path)
        if self._faults:
            fault = self._faults.popleft()
            if fault.status is None:
                assert self._closing is not None
                await self._closing.wait()
                return 500, {"error": {"message": "closing"}}, {}
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            error = {"type": "error", "error": {"type": "api_error", "message": "stub fault"}}
            return fault.status, error, extra
        if self._hang_after is not None and self.served >= self._hang_after:
            assert self._closing is not None
            await self._closing.wait()
            return 500, {"error": {"message": "closing"}}, {}
        if self._hold_after is not None and self.served >= self._hold_after:
            assert self._released is not None
            await self._released.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        text = self.reply(body)
        self.served += 1
        tokens_in = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        tokens_out = len(text.split())
        if path.endswith("/messages"):
            return (
                200,
                {
                    "id": f"msg_{self.served}",
                    "type": "message",
                    "role": "assistant",
                    "model": body.get("model", "stub"),
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
                },
                {},
            )
        return (
            200,
            {
                "id": f"chatcmpl-{self.served}",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "stub"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": tokens_in,
                    "completion_tokens": tokens_out,
                    "total_tokens": tokens_in + tokens_out,
                },
            },
            {},
        )
