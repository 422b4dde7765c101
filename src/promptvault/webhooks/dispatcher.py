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
event, and the dispatcher picks it up in the background: woken as soon as a change commits
in its own process (``Database.on_events_committed``) or by :meth:`Dispatcher.wake` (the
server calls it on PostgreSQL notifications), else at its next poll, every
``webhook_poll_interval`` seconds. Endpoints are served side by side
in a thread pool; what each send did (log entry, cursor) is queued and written by one
recorder thread, many outcomes per transaction and at most one transaction per 0.1 s, so
ten subscriptions cost the database a commit or two per event rather than ten, and a burst
of writes far fewer. A subscription is not served again until its outcomes are written.
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

from promptvault.storage.unit_of_work import UnitOfWork, utcnow
from promptvault.webhooks.feed import ChangeEvent, FeedPage, event_matches
from promptvault.webhooks.service import WebhookService
from promptvault.webhooks.transport import Response

__all__ = ["LEASE_NAME", "Dispatcher"]

log = logging.getLogger(__name__)

LEASE_NAME = "dispatcher"
_BATCH = 100
_PRUNE_EVERY = 3600.0
_RECORD_EVERY = 0.1  # seconds between two writes of the delivery log and cursors
_ACTOR = "promptvault webhooks"


class Dispatcher:
    """Background delivery of change events for one database (see the module notes)."""

    def __init__(
        self,
        service: WebhookService,
        *,
        holder: str | None = None,
        workers: int = 4,
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
        self.log_days = settings.webhook_log_days
        self._pruned_at = 0.0  # monotonic time of the last pruning of the delivery log
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._jitter = jitter
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: dict[int, Future[None]] = {}
        self._lease_until = 0.0  # monotonic time our lease ends (0: not held)
        self._renew_at = 0.0
        self.rounds = 0  # looks for work taken by the background thread
        self._retry_at = 0.0  # monotonic time before which a lost lease is not asked again
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._recorder: threading.Thread | None = None
        self._records_due = threading.Event()
        self._lock = threading.Lock()
        self._outcomes: list[_Outcome] = []
        self._unrecorded: dict[int, int] = {}  # subscription id -> outcomes not yet written
        self._head = 0  # the newest event id a round has seen
        self._known: frozenset[int] = frozenset()  # the enabled subscriptions last read
        self._deferred = False  # a round was skipped: every subscription was busy
        self._unwatch: Callable[[], None] | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Run in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="promptvault-webhook")
        # This process's own changes wake it as they commit; others' are found by polling
        # (and on PostgreSQL by the server's LISTEN), so the poll can stay slow.
        self._unwatch = self.db.on_events_committed(self.wake)
        self._thread = threading.Thread(target=self._run, name="promptvault-webhooks", daemon=True)
        self._thread.start()
        self._recorder = threading.Thread(
            target=self._record_loop, name="promptvault-webhook-log", daemon=True
        )
        self._recorder.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the deliveries under way, then give the lease up for the next one."""
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._records_due.set()
        if self._recorder is not None:
            self._recorder.join(timeout)
            self._recorder = None
        self.record()  # anything left
        self.service.connections.close()
        if self._lease_until:
            try:
                at = utcnow()
                self.db.write_work(
                    lambda w: w.webhooks.release_lease(LEASE_NAME, holder=self.holder, now=at),
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
            self.rounds += 1
            # Woken early by a finished round (more may be due) or by wake().
            self._wake.wait(self.poll_interval)
            self._wake.clear()

    # --- one round -----------------------------------------------------------------------

    def _hold_lease(self) -> bool:
        now = time.monotonic()
        if now < self._renew_at:
            return True
        if now < self._retry_at:  # another holds it: ask again later, not at every wake-up
            return False
        at = utcnow()
        until = at + timedelta(seconds=self.lease_seconds)
        held = self.db.write_work(
            lambda w: w.webhooks.acquire_lease(LEASE_NAME, holder=self.holder, now=at, until=until),
            serial=False,
        )
        if held:
            self._lease_until = now + self.lease_seconds
            self._renew_at = now + self.lease_seconds / 3
        else:
            self._lease_until = self._renew_at = 0.0
            self._retry_at = now + min(self.lease_seconds / 3, self.poll_interval * 5)
        return held

    def run_once(self, *, wait: bool = True) -> bool:
        """Start a round: every subscription with work due gets the events of one page of
        the feed (read once for all of them), delivered in the pool, or in this thread
        with ``wait`` (then recorded before returning). Returns whether any was started."""
        # Who is busy is taken before reading the cursors: a subscription whose outcomes
        # are written after this point is skipped this round rather than served from a
        # cursor read before they landed (which would send those events again).
        # In-flight first: a send that ends after this look has queued its outcomes before
        # the look at what is unwritten.
        busy = {key for key, f in self._inflight.items() if not f.done()}
        with self._lock:
            busy |= set(self._unrecorded)
            # Every subscription is mid-delivery or waiting for its outcomes to be written
            # (during a burst of writes, at most every commit): nothing could start, and a
            # round's reads would only add work beside the writers. The recording that
            # frees one starts the next round.
            self._deferred = bool(self._known) and self._known <= busy
            if self._deferred:
                return False
        with self.db.read_work() as work:
            subscriptions = work.webhooks.enabled()
        self._known = frozenset(s["id"] for s in subscriptions)
        if not subscriptions:
            return False
        head = self.feed.last_id()
        self._head = max(self._head, head)
        now = utcnow()
        due = [
            s
            for s in subscriptions
            if int(s["cursor"]) < head
            and s["id"] not in busy
            and (s["next_attempt_at"] is None or s["next_attempt_at"] <= now)
        ]
        if not due or not self._hold_lease():
            return False
        self._prune()
        # Subscriptions usually stand at the same cursor: read each distinct page once.
        pages = {c: self.feed.read(c, _BATCH) for c in {int(s["cursor"]) for s in due}}
        for fields in due:
            page = pages[int(fields["cursor"])]
            if self._pool is None or wait:
                self.serve(fields, page)
                continue
            future = self._pool.submit(self.serve, fields, page)
            self._inflight[fields["id"]] = future
            future.add_done_callback(self._finished)
        if self._pool is None or wait:
            self.record()
        return True

    def prune(self) -> int:
        """Delete delivery-log entries older than ``webhook_log_days``; returns how many."""
        before = utcnow() - timedelta(days=self.log_days)
        return self.db.write_work(
            lambda w: w.webhooks.prune_deliveries(before=before), serial=False, durable=False
        )

    def _prune(self) -> None:
        # Once an hour, by the lease holder only: the log must not grow without bound.
        now = time.monotonic()
        if self._pruned_at and now - self._pruned_at < _PRUNE_EVERY:
            return
        self._pruned_at = now
        try:
            self.prune()
        except Exception:  # a busy database: the next hour tries again
            log.warning("could not prune the webhook delivery log", exc_info=True)

    def _finished(self, _future: Future[None]) -> None:
        self._records_due.set()

    # --- one subscription ----------------------------------------------------------------

    def serve(self, fields: dict[str, Any], page: FeedPage) -> None:
        """Deliver one subscription's events of ``page`` in order, until one fails or this
        dispatcher must stop. Outcomes are queued for :meth:`record`."""
        try:
            self._serve(dict(fields), page)
        except Exception:
            log.warning("delivery to webhook %s failed", fields.get("uid"), exc_info=True)

    def _serve(self, fields: dict[str, Any], page: FeedPage) -> None:
        cursor = int(fields["cursor"])
        for event in page.events:
            if event.id <= cursor:
                continue
            if self._stop.is_set() or not self.active:
                return
            if not event_matches(event, fields["event_types"], fields["prompt_prefix"]):
                continue
            if not self._attempt(fields, cursor, event):
                return  # failed: retried later, or the endpoint was disabled
            cursor = event.id
        if page.last > cursor:  # the rest of the page was filtered out
            self._queue(_Outcome(fields, cursor, {"cursor": page.last}))

    def _attempt(self, fields: dict[str, Any], cursor: int, event: ChangeEvent) -> bool:
        """Send ``event`` and queue what happened; True when the cursor moves past it."""
        msg_id, response = self.service.send(fields, event)
        attempt = int(fields["attempt"]) + 1
        failures = 0 if response.ok else int(fields["consecutive_failures"]) + 1
        disable = not response.ok and failures >= self.disable_after
        give_up = not response.ok and not disable and attempt > len(self.schedule)
        changes: dict[str, Any]
        if response.ok or give_up:
            changes = {
                "cursor": event.id,
                "attempt": 0,
                "next_attempt_at": None,
                "consecutive_failures": failures,
            }
        elif disable:
            changes = {
                "attempt": attempt,
                "consecutive_failures": failures,
                "enabled": False,
                "disabled_reason": f"disabled after {failures} consecutive failed deliveries",
                "next_attempt_at": None,
            }
        else:
            changes = {
                "attempt": attempt,
                "consecutive_failures": failures,
                "next_attempt_at": self._next_attempt(attempt),
            }
        log_entry = (event, msg_id, response, attempt)
        self._queue(_Outcome(dict(fields), cursor, changes, log_entry, disable))
        fields.update(changes)
        return response.ok or give_up

    def _next_attempt(self, attempt: int) -> datetime:
        base = self.schedule[min(attempt, len(self.schedule)) - 1]
        return utcnow() + timedelta(seconds=base * (0.8 + 0.4 * self._jitter()))

    # --- recording -----------------------------------------------------------------------

    def _queue(self, outcome: _Outcome) -> None:
        with self._lock:
            self._outcomes.append(outcome)
            self._unrecorded[outcome.fields["id"]] = (
                self._unrecorded.get(outcome.fields["id"], 0) + 1
            )
        self._records_due.set()

    def record(self) -> int:
        """Write every queued outcome (log entries and cursor moves) in one transaction:
        one commit for many deliveries, so delivering costs writers little. A cursor moves
        only from where the outcome expects it (``cursor_was``), so a stale outcome
        changes nothing. Returns how many outcomes were written."""
        with self._lock:
            batch, self._outcomes = self._outcomes, []
        if not batch:
            return 0

        # One UPDATE per subscription: from where its first outcome started to where its
        # last one ended (each outcome starts where the one before it ended).
        logs: list[dict[str, Any]] = []
        final: dict[int, tuple[_Outcome, dict[str, Any], bool]] = {}
        for o in batch:
            if o.log is not None:
                event, msg_id, response, attempt = o.log
                logs.append(
                    self.service.log_entry(
                        o.fields, event, msg_id, response, attempt=attempt, trigger="dispatch"
                    )
                )
            first, changes, disable = final.get(o.fields["id"], (o, {}, False))
            final[o.fields["id"]] = (first, {**changes, **o.changes}, disable or o.disable)

        def change(work: UnitOfWork) -> None:
            work.webhooks.insert_deliveries(logs)
            # The usual outcomes (delivered, or retried later) in one batched statement;
            # a disabling one alone, since its audit entry depends on its row changing.
            work.webhooks.update_many(
                [
                    (first.fields["id"], first.cursor, changes)
                    for first, changes, disable in final.values()
                    if not disable
                ]
            )
            for first, changes, disable in final.values():
                if not disable:
                    continue
                moved = work.webhooks.update(
                    first.fields["id"], cursor_was=first.cursor, enabled_only=True,
                    **changes,
                )  # fmt: skip
                if moved and disable:
                    work.audit(
                        actor=_ACTOR,
                        action="webhook.disable",
                        target=f"webhook:{first.fields['uid']}",
                        details={"reason": changes["disabled_reason"]},
                    )

        # Not waiting for the disk: a log entry and cursor lost to a database crash mean
        # the event is sent again (same webhook-id), which at-least-once allows, and every
        # writer's own commit does not queue behind these flushes. Disabling an endpoint
        # is audited, and that stays durable.
        disabling = any(o.disable for o in batch)
        # A new round at once only when a recorded subscription is still behind the newest
        # event seen (more of its events are due now), or a round was skipped meanwhile
        # because all were busy; one that caught up, or waits for a retry, is picked up by
        # the next event's wake-up or the next poll. Each round costs the database a few
        # reads, beside every writer.
        behind = any(
            "cursor" in changes and int(changes["cursor"]) < self._head
            for _, changes, _ in final.values()
        )
        try:
            self.db.write_work(change, serial=disabling, durable=disabling)
        except Exception:  # not recorded: those events are sent again (same webhook-id)
            behind = True
            log.warning("could not record %d webhook deliveries", len(batch), exc_info=True)
        finally:
            with self._lock:
                for o in batch:
                    key = o.fields["id"]
                    self._unrecorded[key] -= 1
                    if not self._unrecorded[key]:
                        del self._unrecorded[key]
                if behind or self._deferred:
                    self._wake.set()
        return len(batch)

    def _record_loop(self) -> None:
        recorded_at = -_RECORD_EVERY
        while True:
            self._records_due.wait(self.poll_interval)
            # At most one batch per _RECORD_EVERY: each is a write transaction, and SQLite
            # writers take turns, so writing after every delivery would put a log write
            # before most of a busy server's own writes. Outcomes arriving meanwhile join
            # the batch; a lone delivery after a quiet spell is written at once.
            self._stop.wait(max(0.0, recorded_at + _RECORD_EVERY - time.monotonic()))
            self._records_due.clear()
            try:
                if self.record():
                    recorded_at = time.monotonic()
            except Exception:
                log.warning("webhook recording failed", exc_info=True)
            if self._stop.is_set() and not self._outcomes:
                return


class _Outcome:
    """What one send (or a filtered-out stretch) changes: the subscription's fields from
    ``cursor``, and the log entry to write."""

    __slots__ = ("changes", "cursor", "disable", "fields", "log")

    def __init__(
        self,
        fields: dict[str, Any],
        cursor: int,
        changes: dict[str, Any],
        log: tuple[ChangeEvent, str, Response, int] | None = None,
        disable: bool = False,
    ) -> None:
        self.fields = fields
        self.cursor = cursor
        self.changes = changes
        self.log = log
        self.disable = disable
