"""The dispatcher: delivers change events to webhook endpoints, at least once, in order.

One dispatcher is active per database: each server process runs one (``promptvault
serve``), and they share a lease row (``webhook_lease``) that only one holds unexpired;
the holder renews it well before it ends, and another takes over once it has lapsed (a
dispatcher killed mid-delivery is replaced after ``webhook_lease_seconds``).

Each subscription has a cursor: the id of the last change event it is done with. The
dispatcher reads events after the cursor from the feed, skips those the subscription's
filters leave out, and sends the next one; only when the endpoint answered 2xx does the
cursor move past it (in the same transaction as the log entry). An event is therefore
sent again after a crash between sending and recording, with the same ``webhook-id``:
receivers deduplicate by it. A failure holds the subscription at that event (order is kept
per endpoint) and schedules the next attempt from ``webhook_retry_schedule`` with jitter;
``webhook_disable_after`` consecutive failures disable the endpoint (an admin enables it
again, and delivery resumes at the same event). An event that used up the whole schedule
without the endpoint being disabled is logged as given up and passed.

Sending never happens in a writer's transaction: a push or label move only commits its
event, and the dispatcher, polling every ``webhook_poll_interval`` seconds (or woken by
:meth:`Dispatcher.wake`), picks it up in the background.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from promptvault.storage import webhooks as store
from promptvault.storage.audit import append
from promptvault.storage.tables import utcnow
from promptvault.webhooks.feed import ChangeEvent, event_matches
from promptvault.webhooks.service import WebhookService

__all__ = ["LEASE_NAME", "Dispatcher"]

log = logging.getLogger(__name__)

LEASE_NAME = "dispatcher"
_BATCH = 100
_ACTOR = "promptvault webhooks"


class Dispatcher:
    """Background delivery of change events for one database (see the module notes)."""

    def __init__(
        self,
        service: WebhookService,
        *,
        holder: str | None = None,
        workers: int = 8,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.service = service
        self.db = service.db
        self.feed = service.feed
        settings = service.settings
        self.schedule = [max(0.0, float(s)) for s in settings.webhook_retry_schedule]
        self.disable_after = settings.webhook_disable_after
        self.lease_seconds = settings.webhook_lease_seconds
        self.poll_interval = settings.webhook_poll_interval
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._jitter = jitter
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: dict[int, Future[None]] = {}
        self._lease_until = 0.0  # monotonic time our lease ends (0: not held)
        self._renew_at = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Run in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="promptvault-webhook")
        self._thread = threading.Thread(target=self._run, name="promptvault-webhooks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the deliveries under way, then give the lease up for the next one."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._lease_until:
            try:
                self.db.write(
                    lambda s: store.release_lease(s, LEASE_NAME, holder=self.holder, now=utcnow()),
                    serial=False,
                )
            except Exception:  # shutting down: the lease simply expires instead
                log.warning("could not release the webhook lease", exc_info=True)
            self._lease_until = 0.0

    def wake(self) -> None:
        """Look for new events now rather than at the next poll."""
        self._wake.set()

    @property
    def active(self) -> bool:
        """Whether this dispatcher holds the lease."""
        return time.monotonic() < self._lease_until

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once(wait=False)
            except Exception:  # a database blip must not end delivery for good
                log.warning("webhook dispatch failed; retrying", exc_info=True)
            # Woken early by a finished round (more may be due) or by wake().
            self._wake.wait(self.poll_interval)
            self._wake.clear()

    # --- one round -----------------------------------------------------------------------

    def _hold_lease(self) -> bool:
        now = time.monotonic()
        if now < self._renew_at:
            return True
        at = utcnow()
        until = at + timedelta(seconds=self.lease_seconds)
        held = self.db.write(
            lambda s: store.acquire_lease(s, LEASE_NAME, holder=self.holder, now=at, until=until),
            serial=False,
        )
        if held:
            self._lease_until = now + self.lease_seconds
            self._renew_at = now + self.lease_seconds / 3
        else:
            self._lease_until = self._renew_at = 0.0
        return held

    def run_once(self, *, wait: bool = True) -> bool:
        """Start a round of deliveries for every subscription with work due (in the pool,
        or in this thread when no pool runs); returns whether any was started."""
        with self.db.read() as session:
            subscriptions = store.enabled_webhooks(session)
        if not subscriptions:
            return False
        head = self.feed.last_id()
        now = utcnow()
        due = [
            s
            for s in subscriptions
            if int(s["cursor"]) < head
            and (s["next_attempt_at"] is None or s["next_attempt_at"] <= now)
        ]
        if not due or not self._hold_lease():
            return False
        started = False
        for fields in due:
            running = self._inflight.get(fields["id"])
            if running is not None and not running.done():
                continue
            started = True
            if self._pool is None or wait:
                self.serve(fields)
                continue
            future = self._pool.submit(self.serve, fields)
            self._inflight[fields["id"]] = future
            future.add_done_callback(self._finished)
        return started

    def _finished(self, _future: Future[None]) -> None:
        self._wake.set()  # the round may have left work due: look again now

    # --- one subscription ----------------------------------------------------------------

    def serve(self, fields: dict[str, Any]) -> None:
        """Deliver one subscription's pending events in order until it is caught up, an
        attempt fails, or this dispatcher must stop or re-check its lease."""
        try:
            self._serve(dict(fields))
        except Exception:
            log.warning("delivery to webhook %s failed", fields.get("uid"), exc_info=True)

    def _serve(self, fields: dict[str, Any]) -> None:
        deadline = time.monotonic() + self.lease_seconds / 3
        cursor = int(fields["cursor"])
        while not self._stop.is_set() and self.active and time.monotonic() < deadline:
            page = self.feed.read(cursor, _BATCH)
            for event in page.events:
                if not event_matches(event, fields["event_types"], fields["prompt_prefix"]):
                    continue
                outcome = self._attempt(fields, cursor, event)
                if outcome is None:
                    return  # failed (retry later), disabled, or changed under us
                cursor = fields["cursor"] = outcome
                if self._stop.is_set() or not self.active:
                    return
            if page.last > cursor:  # the rest of the page was filtered out
                if not self._move(fields, cursor, page.last):
                    return
                cursor = fields["cursor"] = page.last
            if (
                len(page.events) < _BATCH
                and page.last == cursor
                and page.last >= self.feed.last_id()
            ):
                return

    def _move(self, fields: dict[str, Any], cursor: int, to: int) -> bool:
        def work(session: Any) -> bool:
            return store.update_webhook(
                session, fields["id"], cursor_was=cursor, enabled_only=True, cursor=to
            )

        return self.db.write(work, serial=False)

    def _attempt(self, fields: dict[str, Any], cursor: int, event: ChangeEvent) -> int | None:
        """Send ``event``; record it. Returns the new cursor, or None to stop for now."""
        msg_id, response = self.service.send(fields, event)
        attempt = int(fields["attempt"]) + 1
        failures = 0 if response.ok else int(fields["consecutive_failures"]) + 1
        changes: dict[str, Any]
        disable = not response.ok and failures >= self.disable_after
        give_up = not response.ok and not disable and attempt > len(self.schedule)
        if response.ok or give_up:
            changes = {"cursor": event.id, "attempt": 0, "next_attempt_at": None}
            if not disable:
                changes["consecutive_failures"] = failures
        elif disable:
            reason = f"disabled after {failures} consecutive failed deliveries"
            changes = {
                "attempt": attempt,
                "consecutive_failures": failures,
                "enabled": False,
                "disabled_reason": reason,
                "next_attempt_at": None,
            }
        else:
            changes = {
                "attempt": attempt,
                "consecutive_failures": failures,
                "next_attempt_at": self._next_attempt(attempt),
            }

        def work(session: Any) -> bool:
            self.service._log(
                session, fields, event, msg_id, response, attempt=attempt, trigger="dispatch"
            )
            moved = store.update_webhook(
                session, fields["id"], cursor_was=cursor, enabled_only=True, **changes
            )
            if moved and disable:
                append(
                    session,
                    actor=_ACTOR,
                    action="webhook.disable",
                    target=f"webhook:{fields['uid']}",
                    details={"reason": changes["disabled_reason"], "event_id": event.id},
                )
            return moved

        moved = self.db.write(work, serial=disable)
        if not moved:
            return None
        fields.update(changes)
        if response.ok or give_up:
            return event.id
        return None

    def _next_attempt(self, attempt: int) -> datetime:
        base = self.schedule[min(attempt, len(self.schedule)) - 1]
        return utcnow() + timedelta(seconds=base * (0.8 + 0.4 * self._jitter()))
