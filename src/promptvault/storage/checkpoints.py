"""Signed checkpoints that anchor the audit chain, and the optional external witness.

A hash chain alone proves only that its links agree with each other: whoever can write to
the database can delete the newest entries, or edit one and recompute every later hash, and
the chain still verifies. So every append also writes, in the same transaction, a
checkpoint of the new head (``seq`` and ``hash``) signed with an HMAC key that is *not* in
the database: ``settings.audit_key``, else ``home/audit.key`` (32 random bytes, mode 0600,
created on first use). One ``head`` row is overwritten by every append; a ``periodic`` row is
kept every :data:`CHECKPOINT_EVERY` entries to narrow down where a chain was rewritten.

What each tampering looks like to :func:`promptvault.storage.audit.verify_chain`:

* newest entries deleted: the signed head names an entry the chain no longer has;
* an entry edited and every later hash recomputed: the head's hash (and any periodic
  checkpoint after the edit) no longer matches the chain;
* the checkpoint deleted or edited: it is missing, or its signature does not match;
* everything deleted (entries and checkpoints): the database still holds prompts or keys
  that were audited, and the witness, when configured, names entries that are gone.

An old checkpoint replayed together with a truncated chain is indistinguishable from the
past inside the database; the external witness (``settings.audit_witness``, a file each
committed head is appended to, ideally on other storage) closes that gap.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from promptvault._fileio import read_or_create_secret
from promptvault.config import Settings
from promptvault.errors import PromptUnavailable
from promptvault.storage.tables import AuditCheckpointRow

__all__ = [
    "ANCHOR_INFO_KEY",
    "AUDIT_KEY_FILE",
    "CHECKPOINT_EVERY",
    "AuditAnchor",
    "Checkpoint",
    "WitnessHead",
    "anchor_of",
    "append_witness",
    "checkpoints",
    "read_witness",
    "resign_checkpoints",
    "write_checkpoint",
]

log = logging.getLogger(__name__)

AUDIT_KEY_FILE = "audit.key"
CHECKPOINT_EVERY = 1000
# Set in ``Session.info`` by ``Database.transaction``: a callable giving the anchor appends
# sign with (called only when the transaction appends, so other writes need no key file).
ANCHOR_INFO_KEY = "promptvault_audit_anchor"
_RESOLVED_INFO_KEY = "promptvault_audit_anchor_resolved"
_PENDING_INFO_KEY = "promptvault_audit_witness_head"
_WITNESS_TAIL_BYTES = 64 * 1024

_UPDATE_HEAD = update(AuditCheckpointRow).where(AuditCheckpointRow.kind == "head")
_INSERT = insert(AuditCheckpointRow)


def _at_text(at: datetime) -> str:
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.replace(tzinfo=None).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class AuditAnchor:
    """The checkpoint signing key (kept outside the database) and the witness file."""

    key: bytes = field(repr=False)
    witness: Path | None = None
    every: int = CHECKPOINT_EVERY

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditAnchor:
        """``settings.audit_key``, else the key in ``home/audit.key`` (created, 0600)."""
        if settings.audit_key:
            key = hashlib.sha256(settings.audit_key.encode("utf-8")).digest()
        else:
            path = Path(settings.home) / AUDIT_KEY_FILE
            try:
                secret = read_or_create_secret(path)
            except OSError as exc:
                raise PromptUnavailable(
                    f"cannot read or create the audit key {path}: {exc.strerror or exc}; "
                    "set PROMPTVAULT_AUDIT_KEY (the same value on every server)",
                    details={"field": "audit_key", "path": str(path)},
                ) from exc
            key = hashlib.sha256(secret.encode("utf-8")).digest()
        return cls(key=key, witness=settings.audit_witness)

    @property
    def key_id(self) -> str:
        """A public name of the key: which key signed a checkpoint, without revealing it."""
        return hashlib.sha256(b"promptvault-audit-key-id\0" + self.key).hexdigest()[:16]

    def sign(self, kind: str, seq: int, digest: str, at: datetime) -> str:
        """The HMAC of one checkpoint; ``kind`` is signed so a periodic one is no head."""
        message = f"promptvault-audit-checkpoint\0{kind}\0{seq}\0{digest}\0{_at_text(at)}"
        return hmac.new(self.key, message.encode("utf-8"), hashlib.sha256).hexdigest()

    def signs(self, checkpoint: Checkpoint) -> bool:
        """Whether ``checkpoint`` carries this key's valid signature."""
        expected = self.sign(checkpoint.kind, checkpoint.seq, checkpoint.hash, checkpoint.at)
        return hmac.compare_digest(expected, checkpoint.signature)


@dataclass(frozen=True)
class Checkpoint:
    """One stored checkpoint row."""

    kind: str
    seq: int
    hash: str
    at: datetime
    key_id: str
    signature: str


@dataclass(frozen=True)
class WitnessHead:
    """One line of the witness file: a head that was committed."""

    seq: int
    hash: str
    line: int


def write_checkpoint(
    session: Session, conn: Connection, *, seq: int, digest: str, at: datetime
) -> None:
    """Sign the new head ``seq``/``digest`` in the caller's transaction.

    The witness line is appended only after the transaction commits: a rolled-back head
    must never reach it.
    """
    anchor = anchor_of(session)
    values = {
        "seq": seq,
        "hash": digest,
        "at": at,
        "key_id": anchor.key_id,
        "signature": anchor.sign("head", seq, digest, at),
    }
    if conn.execute(_UPDATE_HEAD, values).rowcount == 0:
        conn.execute(_INSERT, {"kind": "head", **values})
    if anchor.every > 0 and seq % anchor.every == 0:
        periodic = {**values, "signature": anchor.sign("periodic", seq, digest, at)}
        conn.execute(_INSERT, {"kind": "periodic", **periodic})
    if anchor.witness is not None:
        pending = session.info.get(_PENDING_INFO_KEY)
        session.info[_PENDING_INFO_KEY] = {
            "seq": seq,
            "hash": digest,
            "at": _at_text(at),
            "key_id": anchor.key_id,
            "signature": values["signature"],
        }
        if pending is None:
            event.listen(session, "after_commit", _after_commit, once=True)
            event.listen(session, "after_rollback", _forget_pending, once=True)


def anchor_of(session: Session) -> AuditAnchor:
    """The anchor of ``session``'s database (from the environment's settings if unset)."""
    anchor: AuditAnchor | None = session.info.get(_RESOLVED_INFO_KEY)
    if anchor is None:
        source = session.info.get(ANCHOR_INFO_KEY)
        anchor = source() if callable(source) else AuditAnchor.from_settings(Settings())
        session.info[_RESOLVED_INFO_KEY] = anchor
    return anchor


def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING_INFO_KEY, None)


def _after_commit(session: Session) -> None:
    head = session.info.pop(_PENDING_INFO_KEY, None)
    anchor = session.info.get(_RESOLVED_INFO_KEY)
    if head is None or anchor is None or anchor.witness is None:
        return
    try:
        _append_line(anchor.witness, json.dumps(head, sort_keys=True) + "\n")
    except OSError as exc:  # the write is committed; a lagging witness is reported by verify
        log.warning("cannot append the audit head to the witness %s: %s", anchor.witness, exc)


def _append_line(path: Path, line: str) -> None:
    # One write() of a short line with O_APPEND: lines from several processes never interleave.
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    fd = os.open(path, flags, stat.S_IRUSR | stat.S_IWUSR)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


def append_witness(anchor: AuditAnchor, *, seq: int, digest: str, at: datetime) -> None:
    """Append a head to the witness right away (after a restore re-anchored the chain)."""
    if anchor.witness is None:
        return
    head = {
        "seq": seq,
        "hash": digest,
        "at": _at_text(at),
        "key_id": anchor.key_id,
        "signature": anchor.sign("head", seq, digest, at),
    }
    _append_line(anchor.witness, json.dumps(head, sort_keys=True) + "\n")


def read_witness(path: Path) -> list[WitnessHead]:
    """The heads in the last 64 KiB of the witness file (none when it does not exist).

    Processes append after their own commits, so the newest lines may be slightly out of
    order; every one of them must still match the chain.
    """
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            start = max(0, size - _WITNESS_TAIL_BYTES)
            fh.seek(start)
            tail = fh.read()
    except FileNotFoundError:
        return []
    lines = tail.split(b"\n")
    if start > 0:
        lines = lines[1:]  # the first line may be cut
    out: list[WitnessHead] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            item: Any = json.loads(raw)
            out.append(WitnessHead(seq=int(item["seq"]), hash=str(item["hash"]), line=number))
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line of a crashed writer; the others still count
    return out


def checkpoints(session: Session) -> tuple[Checkpoint | None, dict[int, Checkpoint]]:
    """The head checkpoint (or None) and the periodic ones by ``seq``."""
    head: Checkpoint | None = None
    periodic: dict[int, Checkpoint] = {}
    rows: Iterable[AuditCheckpointRow] = session.execute(select(AuditCheckpointRow)).scalars()
    for row in rows:
        point = Checkpoint(
            kind=row.kind,
            seq=row.seq,
            hash=row.hash,
            at=row.at,
            key_id=row.key_id,
            signature=row.signature,
        )
        if row.kind == "head":
            head = point
        else:
            periodic[row.seq] = point
    return head, periodic


def resign_checkpoints(session: Session, anchor: AuditAnchor) -> list[str]:
    """Sign every checkpoint again with ``anchor``'s key; returns the key ids replaced.

    Only for a restore whose operator vouches for the backup file: the signatures say
    nothing more than that file does. Verify the chain afterwards.
    """
    replaced: set[str] = set()
    for row in session.execute(select(AuditCheckpointRow)).scalars():
        if row.key_id != anchor.key_id:
            replaced.add(row.key_id)
        row.signature = anchor.sign(row.kind, row.seq, row.hash, row.at)
        row.key_id = anchor.key_id
    session.flush()
    return sorted(replaced)
