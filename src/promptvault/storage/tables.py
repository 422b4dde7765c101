"""SQLAlchemy 2 ORM tables: the only place that knows the schema.

Rows never leave ``storage/``: repositories turn them into entities. New tables from later
migrations are appended at the end of this module (one section per migration) so that the
"migrated schema equals the ORM metadata" test covers every migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ApiKeyRow",
    "AuditCheckpointRow",
    "AuditRow",
    "Base",
    "ChangeEventRow",
    "CollectionRow",
    "EvalCacheRow",
    "EvalCaseRow",
    "EvalDatasetRow",
    "EvalGateRow",
    "EvalProviderRow",
    "EvalResultRow",
    "EvalRunRow",
    "EventBatchRow",
    "ExampleRow",
    "ExperimentPhaseRow",
    "ExperimentRow",
    "ExperimentUnitRow",
    "ExperimentVariantRow",
    "LabelEventRow",
    "LabelRow",
    "PromptRow",
    "RejectionRow",
    "TagRow",
    "UTCDateTime",
    "VariantStatRow",
    "VersionRow",
    "WebhookDeliveryRow",
    "WebhookLeaseRow",
    "WebhookRow",
    "exposures_table",
    "outcomes_table",
    "utcnow",
]

# Stable constraint names so that migrations and the metadata agree on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: identical on SQLite and PostgreSQL.

    SQLite has no time zones; keeping both databases naive-UTC in storage means a value read
    back is bit-for-bit the value written, which the audit hash chain relies on.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every promptvault table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}  # noqa: RUF012


# --- 0001_initial ------------------------------------------------------------------------


class PromptRow(Base):
    """A prompt: identity, description and the number of its newest version."""

    __tablename__ = "prompts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(16), default="text")
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    # Denormalised newest version number: the next push takes latest_version + 1 inside its
    # write transaction, so numbering needs no MAX() scan however many versions exist.
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class VersionRow(Base):
    """One immutable version of a prompt."""

    __tablename__ = "prompt_versions"
    __table_args__ = (UniqueConstraint("prompt_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    syntax: Mapped[str] = mapped_column(String(16))
    # A string for text prompts, a list of message dicts for chat prompts.
    template: Mapped[Any] = mapped_column(JSON)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    variables_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    hash: Mapped[str] = mapped_column(String(64))


class LabelRow(Base):
    """Where a label of a prompt points now."""

    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("prompt_id", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[int] = mapped_column(ForeignKey("prompt_versions.id", ondelete="CASCADE"))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class LabelEventRow(Base):
    """One move of a label (set, rollback or delete), kept forever."""

    __tablename__ = "label_events"
    __table_args__ = (Index(None, "prompt_id", "label", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(64))
    from_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    to_version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime]


class TagRow(Base):
    """A tag on a prompt."""

    __tablename__ = "tags"

    prompt_id: Mapped[int] = mapped_column(
        ForeignKey("prompts.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class AuditRow(Base):
    """One link of the hash-chained audit log; ``seq`` orders the chain."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(300), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


# --- 0002_api_keys -----------------------------------------------------------------------


class ApiKeyRow(Base):
    """An API key: its lookup id in clear, the secret only as a salted HMAC digest."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    role: Mapped[str] = mapped_column(String(16))
    salt: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # 0006_key_lifecycle: when the key stops working, when it was last used (written at
    # most once a minute), and the key that replaced it in a rotation.
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    replaced_by: Mapped[str | None] = mapped_column(String(32), nullable=True)


# --- 0003_experiments --------------------------------------------------------------------


class ExperimentRow(Base):
    """An experiment on one prompt and label: its definition, status and decision.

    ``running_slot`` is ``"<prompt_id>:<label>"`` while the experiment runs and NULL
    otherwise; its unique constraint makes "at most one running experiment per prompt and
    label" hold even for servers racing on the same database.
    """

    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    running_slot: Mapped[str | None] = mapped_column(String(100), nullable=True, unique=True)
    unit_type: Mapped[str] = mapped_column(String(16))
    coverage: Mapped[float] = mapped_column(Float)
    seed: Mapped[str] = mapped_column(String(200))
    # Bumped by every weight change: the split check compares only units that arrived
    # under the current weights.
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    primary_metric: Mapped[dict[str, Any]] = mapped_column(JSON)
    guardrails: Mapped[Any] = mapped_column(JSON)
    metrics: Mapped[Any] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="")
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Who started it last, and the version its label held then: an automatic stop puts
    # the label back there, never on a variant's version.
    started_by: Mapped[str] = mapped_column(String(200), default="", server_default="")
    label_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # 0013_experiment_allocation: "fixed" weights, or "bandit" (Thompson sampling with at
    # least ``floor`` of the traffic per arm).
    allocation: Mapped[str] = mapped_column(String(16), default="fixed", server_default="fixed")
    floor: Mapped[float] = mapped_column(Float, default=0.05, server_default="0.05")


class ExperimentVariantRow(Base):
    """One variant of an experiment: ``position`` 0 is control."""

    __tablename__ = "experiment_variants"
    __table_args__ = (UniqueConstraint("experiment_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    weight: Mapped[float] = mapped_column(Float)


class ExperimentUnitRow(Base):
    """A unit's first exposure: the variant its outcomes count for."""

    __tablename__ = "experiment_units"

    # No foreign key on the three event tables: PostgreSQL checks one per inserted row,
    # which would cost more than the insert itself; experiments are never deleted.
    experiment_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    variant: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime]
    # 0011_experiment_phases: the unit's bucket (0..9999), so that a report can tell, in
    # SQL, which units a later weight change moved to another variant.
    bucket: Mapped[int | None] = mapped_column(Integer, nullable=True)


# Raw events: plain tables without a key, index or foreign key. They are written on the
# ingestion hot path (PostgreSQL COPY) and read only to audit or recompute, which may scan;
# a serial key alone would double the cost of each row.

exposures_table = Table(
    "experiment_exposures",
    Base.metadata,
    Column("experiment_id", Integer, nullable=False),
    Column("variant", Integer, nullable=False),
    Column("unit_id", String(200), nullable=True),
    Column("random", Boolean, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)
"""One raw exposure event per row (kept for audit and recompute)."""

outcomes_table = Table(
    "experiment_outcomes",
    Base.metadata,
    Column("experiment_id", Integer, nullable=False),
    Column("variant", Integer, nullable=False),
    Column("unit_id", String(200), nullable=False),
    Column("metric", String(100), nullable=False),
    Column("value", Float, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)
"""One raw outcome event per row: a metric value for an exposed unit."""


class VariantStatRow(Base):
    """Sufficient statistics per variant, metric and UTC day, kept with the raw events.

    Besides real metrics, ``$units`` counts newly exposed units, ``$units@<epoch>`` the same
    per weight epoch, ``$exposures`` exposure events and ``$random`` exposures drawn without
    a unit id.
    """

    __tablename__ = "experiment_stats"

    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    variant: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(120), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    sum: Mapped[float] = mapped_column(Float, default=0.0)
    sum_sq: Mapped[float] = mapped_column(Float, default=0.0)


class EventBatchRow(Base):
    """An ingested event batch, by idempotency key: a retried batch is answered, not counted."""

    __tablename__ = "experiment_event_batches"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime]
    result: Mapped[dict[str, Any]] = mapped_column(JSON)


class RejectionRow(Base):
    """How many events were refused, per experiment name and reason."""

    __tablename__ = "experiment_rejections"

    experiment: Mapped[str] = mapped_column(String(100), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


# --- 0004_fewshot ------------------------------------------------------------------------


class CollectionRow(Base):
    """A collection of few-shot examples: its embedder, format and selection defaults.

    ``revision`` is bumped by every write to the collection or its examples (not by usage
    counts), so a process holding the vectors in memory checks one integer to know whether
    they are current.
    """

    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    embedder: Mapped[str] = mapped_column(String(32))
    embedder_spec: Mapped[str] = mapped_column(String(200))
    dim: Mapped[int] = mapped_column(Integer)
    example_template: Mapped[str | None] = mapped_column(Text, nullable=True)
    query_template: Mapped[str | None] = mapped_column(Text, nullable=True)
    prompt_id: Mapped[int | None] = mapped_column(
        ForeignKey("prompts.id", ondelete="SET NULL"), nullable=True, index=True
    )
    strategy: Mapped[str] = mapped_column(String(16), default="semantic")
    k: Mapped[int] = mapped_column(Integer, default=3)
    token_budget: Mapped[int | None] = mapped_column(Integer, nullable=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class ExampleRow(Base):
    """One few-shot example; ``embedding`` is its input's vector as float32 bytes."""

    __tablename__ = "examples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    input: Mapped[str] = mapped_column(Text)
    output: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(200), nullable=True)
    quality: Mapped[float] = mapped_column(Float, default=1.0)
    # "metadata" is reserved on declarative classes: the attribute is ``meta``.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    created_at: Mapped[datetime]
    usage_count: Mapped[int] = mapped_column(BigInteger, default=0)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)


# --- 0005_audit_checkpoints --------------------------------------------------------------


class AuditCheckpointRow(Base):
    """A signed statement "the audit chain's entry ``seq`` has ``hash``".

    ``kind`` is ``head`` for the one row every append overwrites (what a deleted tail or a
    recomputed chain is checked against) or ``periodic`` for the rows kept every N entries
    (they narrow down where a chain was rewritten). ``signature`` is an HMAC with a key held
    outside the database; ``key_id`` names that key without revealing it.
    """

    __tablename__ = "audit_checkpoints"
    __table_args__ = (UniqueConstraint("kind", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(64))


# --- 0007_ui_sessions --------------------------------------------------------------------


class UISessionRow(Base):
    """A signed-in web UI session: revocable, so signing out ends it on every server.

    Only a digest of the session id is stored (``sha256``); the cookie carries the id,
    signed, so neither a copy of the database nor a guessed id opens a session.
    """

    __tablename__ = "ui_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


# --- 0009_evals --------------------------------------------------------------------------


class EvalDatasetRow(Base):
    """A named dataset of evaluation cases; ``version`` is bumped by every change.

    Cases are never updated in place: an edit closes the old row (``removed_in``) and adds
    a new one, so the cases of any past version can be read back for a run that used it.
    """

    __tablename__ = "eval_datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    evaluators: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class EvalCaseRow(Base):
    """One case of a dataset, alive from version ``added_in`` until ``removed_in``."""

    __tablename__ = "eval_cases"
    __table_args__ = (Index(None, "dataset_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("eval_datasets.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    variables: Mapped[dict[str, Any]] = mapped_column(JSON)
    expected: Mapped[Any] = mapped_column(JSON, nullable=True)
    tags: Mapped[Any] = mapped_column(JSON)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    added_in: Mapped[int] = mapped_column(Integer)
    removed_in: Mapped[int | None] = mapped_column(Integer, nullable=True)


class EvalProviderRow(Base):
    """A model provider an admin configured; ``secret`` is a Fernet token, never plaintext."""

    __tablename__ = "eval_providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    base_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class EvalRunRow(Base):
    """One run of one prompt version over one dataset version."""

    __tablename__ = "eval_runs"

    # A hex id chosen by the runner, not a serial: a resumed run names it again.
    id: Mapped[str] = mapped_column(String(32), primary_key=True, autoincrement=False)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("eval_datasets.id", ondelete="CASCADE"), index=True
    )
    dataset_version: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    ref: Mapped[str] = mapped_column(String(300))
    provider: Mapped[str] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    evaluators: Mapped[Any] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    total: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="")
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # 0015_eval_run_lease: the process executing the run, and until when that holds unless
    # renewed. A ``running`` run whose lease ran out was left by a process that died.
    owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)


class EvalResultRow(Base):
    """The result of one case in one run, committed as soon as the case finishes."""

    __tablename__ = "eval_results"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("eval_runs.id", ondelete="CASCADE"), primary_key=True
    )
    case_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    output: Mapped[str | None] = mapped_column(Text, nullable=True)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float | None] = mapped_column(Float, nullable=True)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    scores: Mapped[Any] = mapped_column(JSON)
    at: Mapped[datetime]


class EvalCacheRow(Base):
    """A model response by the digest of the exact request that produced it."""

    __tablename__ = "eval_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class EvalGateRow(Base):
    """An eval gate on a prompt's label: promoting to it needs a passing run."""

    __tablename__ = "eval_gates"
    __table_args__ = (UniqueConstraint("prompt", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prompt: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(64))
    dataset: Mapped[str] = mapped_column(String(200))
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON)
    alpha: Mapped[float] = mapped_column(Float, default=0.05)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="")


# --- 0010_change_events ------------------------------------------------------------------


class ChangeEventRow(Base):
    """One change, appended in the transaction that made it (the outbox).

    ``id`` only grows (AUTOINCREMENT on SQLite, a sequence on PostgreSQL) and events are
    appended under the database's serial write lock, so a reader that pages on with
    ``id > last seen`` never skips an event committed later with a smaller id.
    ``prompt`` is the prompt the change concerns, for prefix filters (NULL when none).
    """

    __tablename__ = "change_events"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200), default="")
    prompt: Mapped[str | None] = mapped_column(String(200), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


# --- 0011_experiment_phases --------------------------------------------------------------


class ExperimentPhaseRow(Base):
    """The weights an experiment used from ``started_at`` on: one row per weight epoch.

    ``weights`` are in variant order (control first); ``reason`` says what set them
    (``create``, ``ramp``, ``bandit``).
    """

    __tablename__ = "experiment_phases"

    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    epoch: Mapped[int] = mapped_column(Integer, primary_key=True)
    weights: Mapped[list[float]] = mapped_column(JSON)
    started_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(String(32))


# --- 0012_webhooks -----------------------------------------------------------------------


class WebhookRow(Base):
    """A webhook subscription and where its delivery stands.

    ``secret`` (``whsec_`` + base64) must sign every delivery, so it is kept, not a digest:
    ``fernet:<token>`` when ``settings.secret_key`` is set, else as is
    (``webhooks/secrets.py``). ``cursor`` is the id of the
    last change event this endpoint is done with; ``attempt`` counts failed attempts at
    the next one, retried at ``next_attempt_at``.
    """

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    prompt_prefix: Mapped[str | None] = mapped_column(String(200), nullable=True)
    format: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(500), default="")
    secret: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    cursor: Mapped[int] = mapped_column(BigInteger)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True)


class WebhookDeliveryRow(Base):
    """The delivery log: one row per attempt (status, response time, error)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    message_id: Mapped[str] = mapped_column(String(100))
    event_type: Mapped[str] = mapped_column(String(100))
    attempt: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class WebhookLeaseRow(Base):
    """Which dispatcher may deliver, until when: one row, so one dispatcher per database."""

    __tablename__ = "webhook_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime]


# --- 0014_change_requests ----------------------------------------------------------------


class ChangeRequestRow(Base):
    """A proposed label move waiting for a second person (four-eyes approval).

    ``status`` is ``open`` until an approver approves it (the move is made in the same
    transaction) or someone rejects it; ``from_version`` is where the label pointed when
    the request was made (None: the label did not exist).
    """

    __tablename__ = "change_requests"
    __table_args__ = (Index(None, "status", "id"), Index(None, "prompt_id", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(64))
    from_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    to_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open")
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="")
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decision_comment: Mapped[str] = mapped_column(Text, default="")


class CommentRow(Base):
    """A comment on a prompt version or on a change request."""

    __tablename__ = "comments"
    __table_args__ = (Index(None, "prompt_id", "version", "id"), Index(None, "request_id", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("change_requests.id", ondelete="CASCADE"), nullable=True
    )
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
