"""The run store's tables, as SQLAlchemy 2 models. Alembic migrations create and evolve them.

Flow runs and task runs keep their current state on their own row (for listings) and
every state they entered in ``run_states`` (for history). ``task_run_upstream`` holds the
task graph's edges. The journal tables have no foreign keys on purpose: the writer inserts
events in journal order in batches, and no event may ever be rejected, so a batch never
fails on a consistency constraint. Deleting a flow run deletes its rows from each table.

Saved blocks live in the ``block_*`` tables: a document per saved name, every version of it
(non-secret fields as JSON, secret fields as one encrypted token), the references between
documents (nested blocks), and the type and schema each version was saved with.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from plait.store.types import UTCDateTime

ID = String(36)  # UUIDv7 strings: ordered by creation time, readable in any SQL client


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class FlowRow(Base):
    """A flow, by name: created the first time a run of it is recorded."""

    __tablename__ = "flows"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)


class FlowRunRow(Base):
    """A flow run, its current state, and the process that runs it (for crash detection)."""

    __tablename__ = "flow_runs"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    flow_name: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255))
    state_type: Mapped[str | None] = mapped_column(String(16), index=True)
    state_message: Mapped[str | None] = mapped_column(Text)
    state_name: Mapped[str | None] = mapped_column(String(255))  # if not its type's
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[list[str]] = mapped_column(JSON)
    parent_flow_run_id: Mapped[str | None] = mapped_column(ID, index=True)
    parent_task_run_id: Mapped[str | None] = mapped_column(ID)
    created: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    on_crashed: Mapped[list[str]] = mapped_column(JSON)  # hook names, reported if it crashes
    hostname: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    process_started: Mapped[int | None] = mapped_column(BigInteger)  # tells a reused pid apart
    heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # a ResultRef, if persisted
    entrypoint: Mapped[str | None] = mapped_column(String(1000))  # to re-run it: module:name
    parameters_ref: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # its full parameters
    deployment_id: Mapped[str | None] = mapped_column(ID, index=True)
    scheduled_time: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when it is due
    idempotency_key: Mapped[str | None] = mapped_column(String(128), index=True, unique=True)


class TaskRunRow(Base):
    """A task run and its current state."""

    __tablename__ = "task_runs"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    flow_run_id: Mapped[str | None] = mapped_column(ID, index=True)
    task_name: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    state_type: Mapped[str | None] = mapped_column(String(16))
    state_message: Mapped[str | None] = mapped_column(Text)
    state_name: Mapped[str | None] = mapped_column(String(255))  # if not its type's
    tags: Mapped[list[str]] = mapped_column(JSON)
    map_index: Mapped[int | None] = mapped_column(Integer)
    map_id: Mapped[str | None] = mapped_column(ID)  # the .map call the run is part of
    parent_task_run_id: Mapped[str | None] = mapped_column(ID)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # a ResultRef, if persisted


class RunStateRow(Base):
    """One state a flow run or task run entered; ``detail`` holds a failure's traceback and
    ``name`` a name the state was given (``Completed(name="NoNewRows")``)."""

    __tablename__ = "run_states"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ID, index=True)
    type: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    name: Mapped[str | None] = mapped_column(String(255))  # its own name, if not its type's


class TaskRunUpstreamRow(Base):
    """An edge of the task graph: ``task_run_id`` waited on ``upstream_id``."""

    __tablename__ = "task_run_upstream"

    task_run_id: Mapped[str] = mapped_column(ID, primary_key=True)
    upstream_id: Mapped[str] = mapped_column(ID, primary_key=True)


class LogRow(Base):
    """A log line written by a run."""

    __tablename__ = "logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str | None] = mapped_column(ID, index=True)
    task_run_id: Mapped[str | None] = mapped_column(ID)
    level: Mapped[int] = mapped_column(Integer)
    logger: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)


class ArtifactRow(Base):
    """An artifact a run kept: its key, its type and what it holds (``plait.runs``)."""

    __tablename__ = "artifacts"
    __table_args__ = (Index("ix_artifacts_key_timestamp", "key", "timestamp"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(32))
    flow_run_id: Mapped[str] = mapped_column(ID, index=True)
    task_run_id: Mapped[str | None] = mapped_column(ID)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)


class DeploymentRow(Base):
    """A deployment: its flow, parameters, schedules (JSON) and options
    (``plait.deployments``)."""

    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    flow_name: Mapped[str] = mapped_column(String(255))
    entrypoint: Mapped[str] = mapped_column(String(1000))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    parameter_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    schedules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    tags: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str | None] = mapped_column(String(255))
    concurrency_limit: Mapped[int | None] = mapped_column(Integer)
    collision: Mapped[str] = mapped_column(String(16))
    catchup: Mapped[str] = mapped_column(String(16))
    paused: Mapped[bool] = mapped_column(Boolean)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    updated: Mapped[datetime] = mapped_column(UTCDateTime)


class BlockTypeRow(Base):
    """A block type, by slug, and where its class comes from (for "pip install" hints)."""

    __tablename__ = "block_types"

    slug: Mapped[str] = mapped_column(String(255), primary_key=True)
    class_path: Mapped[str] = mapped_column(String(500))  # module:QualifiedName
    package: Mapped[str | None] = mapped_column(String(255))  # the distribution to install
    description: Mapped[str] = mapped_column(Text)
    documentation_url: Mapped[str | None] = mapped_column(String(500))
    code_example: Mapped[str | None] = mapped_column(Text)
    updated: Mapped[datetime] = mapped_column(UTCDateTime)


class BlockSchemaRow(Base):
    """A block type's fields (JSON schema) at one schema version, by checksum."""

    __tablename__ = "block_schemas"

    checksum: Mapped[str] = mapped_column(String(80), primary_key=True)
    block_type_slug: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[int] = mapped_column(Integer)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    capabilities: Mapped[list[str]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(UTCDateTime)


class BlockDocumentRow(Base):
    """A saved block: its type and name, and its latest version. Anonymous documents hold
    nested blocks that were not saved under a name of their own."""

    __tablename__ = "block_documents"
    __table_args__ = (UniqueConstraint("block_type_slug", "name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    block_type_slug: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    is_anonymous: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    updated: Mapped[datetime] = mapped_column(UTCDateTime)


class BlockDocumentVersionRow(Base):
    """One saved version of a block document. ``secrets`` is a Fernet token (never plain
    text); ``key_fingerprint`` names the key that made it, for clear errors."""

    __tablename__ = "block_document_versions"

    document_id: Mapped[str] = mapped_column(ID, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    schema_checksum: Mapped[str] = mapped_column(String(80))
    schema_version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    secrets: Mapped[str | None] = mapped_column(Text)
    key_fingerprint: Mapped[str | None] = mapped_column(String(16))
    created: Mapped[datetime] = mapped_column(UTCDateTime)


class BlockReferenceRow(Base):
    """A nested block: version ``version`` of ``document_id`` holds, at field ``path``, the
    latest version of ``referenced_id``."""

    __tablename__ = "block_references"

    document_id: Mapped[str] = mapped_column(ID, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(255), primary_key=True)
    referenced_id: Mapped[str] = mapped_column(ID, index=True)


class BlockSecretReadRow(Base):
    """A read of a saved block's secret values through the server: the audit trail. Kept
    when the block is deleted."""

    __tablename__ = "block_secret_reads"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    document_id: Mapped[str] = mapped_column(ID, index=True)
    block: Mapped[str] = mapped_column(String(511))
    version: Mapped[int] = mapped_column(Integer)
    reader: Mapped[str] = mapped_column(String(64))
    fields: Mapped[list[str]] = mapped_column(JSON)
    read: Mapped[datetime] = mapped_column(UTCDateTime)


class VariableRow(Base):
    """A variable (``plait.variables``): a JSON value saved under a name, for flows to read."""

    __tablename__ = "variables"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    updated: Mapped[datetime] = mapped_column(UTCDateTime)


class ConcurrencyLimitRow(Base):
    """A concurrency limit (``plait.backend.limits``): a number of slots shared by every
    process, named like the task tag it holds."""

    __tablename__ = "concurrency_limits"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    slots: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(UTCDateTime)


class ConcurrencyLeaseRow(Base):
    """Slots of one limit held by a lease until ``expires`` (renewed while its holder
    lives); a lease on several limits has a row for each."""

    __tablename__ = "concurrency_leases"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    limit_name: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)
    occupy: Mapped[int] = mapped_column(Integer)
    holder: Mapped[str] = mapped_column(String(255))
    expires: Mapped[datetime] = mapped_column(UTCDateTime)


class CacheRecordRow(Base):
    """A cached result: the result a cache key points to, until it expires."""

    __tablename__ = "cache_records"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)  # a ResultRef
    task_run_id: Mapped[str] = mapped_column(ID)  # the run that computed it
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    expires: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CacheLockRow(Base):
    """A cache key being computed right now, and by which process: others wait for it."""

    __tablename__ = "cache_locks"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    process_started: Mapped[int | None] = mapped_column(BigInteger)
    acquired: Mapped[datetime] = mapped_column(UTCDateTime)


class SpoolSegmentRow(Base):
    """A spool segment whose events are saved here (``plait.journal.spool``): a replay that
    was cut short after its commit skips it rather than saving its events twice."""

    __tablename__ = "spool_segments"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    replayed: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKeyRow(Base):
    """A server API key (``plait.backend.api_keys``): its name and scope, and the key only
    as a scrypt hash, found by its lookup id."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(16))
    lookup: Mapped[str] = mapped_column(String(12), unique=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked: Mapped[datetime | None] = mapped_column(UTCDateTime)
