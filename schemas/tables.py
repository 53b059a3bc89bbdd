"""The platform's public tables (analysts query them); each says its grain. Changes go through migrations."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Key = BigInteger().with_variant(Integer, "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")
Money = Numeric(14, 2)
SourceText = Text
"""Text the source sends: unbounded, since the vendor's spec declares no maxLength (migration 0006)."""


class UtcDateTime(TypeDecorator):
    """A moment stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pmsync stores timezone-aware UTC only")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _pk() -> Column:
    return Column("id", Key, primary_key=True, autoincrement=True)


def _stamps() -> list[Column]:
    return [
        Column("created_at", UtcDateTime(), nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
    ]


def _synced(
    name: str, grain: str, *columns: Any, source_id_required: bool = True, hashed: bool = True, kinds: bool = False
) -> Table:
    """A table the sync writes: keyed by (integration_id, source_id), with integration data kept.

    `kinds`: the table holds several kinds of source record whose ids may repeat across kinds (a rental and an
    association): a NOT NULL `kind` column ('rental' by default), and the key is (integration_id, kind, source_id)
    (migration 0015; schemas.entity_rows says which entity is which kind).

    `hashed`: its rows are source records' own rows, so each keeps `source_hash`, the content hash of the payload
    last applied to it cleanly (pmsync.sync.changes; NULL: check and apply the record again). Rows derived from
    another record (residents from a lease) or imported by CSV have none."""
    hash_column = [Column("source_hash", String(32))] if hashed else []
    kind_column = [Column("kind", String(20), nullable=False, server_default="rental")] if kinds else []
    key = ("integration_id", "kind", "source_id") if kinds else ("integration_id", "source_id")
    return Table(
        name,
        metadata,
        _pk(),
        Column("integration_id", Key, ForeignKey("integrations.id"), nullable=False),
        Column("source_id", BigInteger, nullable=not source_id_required),
        *kind_column,
        *columns,
        Column("active", Boolean, nullable=False, default=True),
        Column("source_data", Json),
        Column("source_modified_at", UtcDateTime()),
        *hash_column,
        Column("last_sync_run_id", Key),
        *_stamps(),
        UniqueConstraint(*key),
        comment=grain,
    )


def _address() -> list[Column]:
    return [
        Column("address_line", SourceText),
        Column("address_city", SourceText),
        Column("address_state", SourceText),
        Column("address_postal_code", SourceText),
        Column("address_country", SourceText),
    ]


integrations = Table(
    "integrations",
    metadata,
    _pk(),
    Column("name", String(120), nullable=False, unique=True),
    Column("source_system", String(40), nullable=False),
    Column("base_url", String(500), nullable=False),
    Column("system_id", String(120), nullable=False),
    Column("integration_user", String(320), nullable=False),
    Column("removed_at", UtcDateTime()),
    Column("configured_in", String(20)),
    *_stamps(),
    comment=(
        "One row per source account synced into the platform (no credentials are stored); removed_at set: removed, "
        "its rows kept inactive and its syncs refused. source_system, base_url and system_id are the account it is "
        "bound to; configured_in says where its settings live (environment or block; NULL: registered before 0012)."
    ),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    _pk(),
    Column("integration_id", Key, ForeignKey("integrations.id"), nullable=False),
    Column("flow", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    Column("window_start", UtcDateTime()),
    Column("window_end", UtcDateTime()),
    Column("source_requests", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("prefect_flow_run_id", String(40)),
    Index(None, "integration_id", "started_at"),
    comment="One row per execution of a sync flow for one integration.",
)

sync_run_entities = Table(
    "sync_run_entities",
    metadata,
    Column("run_id", Key, ForeignKey("sync_runs.id"), primary_key=True),
    Column("entity", String(40), primary_key=True),
    *(Column(count, Integer, nullable=False, default=0) for count in (
        "fetched", "created", "updated", "unchanged", "excluded", "parked", "quarantined")),
    comment="One row per sync run and entity: what the run did with that entity's records.",
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("integration_id", Key, ForeignKey("integrations.id"), primary_key=True),
    Column("stream", String(40), primary_key=True),
    Column("high_water_mark", UtcDateTime(), nullable=False),
    Column("run_id", Key, ForeignKey("sync_runs.id"), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    comment=(
        "One row per integration and source stream: the upper bound of its last complete pass, "
        "written in the same transaction as that pass's last page."
    ),
)

unapplied_records = Table(
    "unapplied_records",
    metadata,
    Column("integration_id", Key, ForeignKey("integrations.id"), primary_key=True),
    Column("entity", String(40), primary_key=True),
    Column("source_id", BigInteger, primary_key=True),
    Column("status", String(20), nullable=False),
    Column("reason", String(60), nullable=False),
    Column("detail", Text, nullable=False),
    Column("parent_entity", String(40)),
    Column("parent_source_id", BigInteger),
    Column("payload", Json),
    Column("source_hash", String(32)),  # the payload's hash while it alone keeps the record held (pmsync.sync.held)
    Column("run_id", Key, ForeignKey("sync_runs.id"), nullable=False),
    Column("first_seen_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Index(None, "integration_id", "parent_entity", "parent_source_id"),
    Index(None, "run_id", "entity", "status", "reason"),
    comment=(
        "One row per source record the latest sync to see it did not apply (excluded or parked), "
        "with the reason; a parked row keeps the record until its parent arrives."
    ),
)

integration_locks = Table(
    "integration_locks",
    metadata,
    Column("integration_name", String(120), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("flow", String(40), nullable=False),
    Column("acquired_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("host", String(255)),
    Column("pid", Integer),
    Column("process_started", String(40)),
    comment=(
        "One row per integration a sync is writing right now: the lock that keeps syncs of one integration in line; "
        "host, pid and process_started name the holding process (NULL: taken before 0012)."
    ),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("integration_id", Key, ForeignKey("integrations.id"), primary_key=True),
    Column("entity", String(40), primary_key=True),
    Column("source_id", String(40), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("expectations", Json, nullable=False),
    Column("record", Json),
    Column("run_id", Key, ForeignKey("sync_runs.id"), nullable=False),
    Column("first_seen_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("released_at", UtcDateTime()),
    Column("released_by_run_id", Key, ForeignKey("sync_runs.id")),
    Index(None, "integration_id", "status", "entity"),
    comment=(
        "One row per source record that failed a data-quality expectation: open until a later run "
        "sees it pass (then released, kept for history)."
    ),
)

properties = _synced(
    "properties",
    "One row per property per integration: a Propertyware building, a Buildium rental or association (kind).",
    Column("name", SourceText),
    Column("abbreviation", SourceText),
    *_address(),
    Column("portfolio_source_id", BigInteger),
    Column("manager_source_id", BigInteger),
    Column("manager_name", SourceText),
    Column("manager_email", SourceText),
    Column("manually_disabled", Boolean, nullable=False, default=False),
    Column("deactivated_at", UtcDateTime()),
    Column("deactivation_reason", Text),
    kinds=True,
)

units = _synced(
    "units",
    "One row per unit per integration: of a rental, or of an association (kind, as its property's).",
    Column("property_id", Key, ForeignKey("properties.id"), nullable=False, index=True),
    Column("name", SourceText),
    Column("abbreviation", SourceText),
    *_address(),
    Column("deactivated_at", UtcDateTime()),
    Column("deactivation_reason", Text),
    kinds=True,
)

leases = _synced(
    "leases",
    "One row per lease per integration (active flag as the source says).",
    Column("unit_id", Key, ForeignKey("units.id"), nullable=False, index=True),
    Column("property_id", Key, ForeignKey("properties.id"), index=True),
    Column("name", SourceText),
    Column("status", SourceText),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("move_in_date", Date),
    Column("move_out_date", Date),
    Column("base_rent", Money),
    Column("balance", Money),
    Column("primary_contact_source_id", BigInteger),
)

ownership_accounts = _synced(
    "ownership_accounts",
    "One row per ownership account (an association unit's owners over one span of ownership) per integration.",
    Column("unit_id", Key, ForeignKey("units.id"), nullable=False, index=True),
    Column("property_id", Key, ForeignKey("properties.id"), index=True),
    Column("status", SourceText),
    Column("purchase_date", Date),
    Column("sale_date", Date),
    Column("delinquency_status", SourceText),
    Column("owner_source_ids", Json),
    Column("comments", SourceText),
    Column("balance", Money),
)

residents = _synced(
    "residents",
    "One row per resident per integration: a lease contact who lives in the unit, or an association unit's owner "
    "(group_name 'Owners').",
    Column("unit_id", Key, ForeignKey("units.id"), nullable=False, index=True),
    Column("lease_id", Key, ForeignKey("leases.id"), index=True),
    Column("first_name", SourceText),
    Column("last_name", SourceText),
    Column("email", SourceText),
    Column("phone", SourceText),
    Column("role", SourceText),
    Column("group_name", String(120)),
    Column("ownership_account_id", Key, ForeignKey("ownership_accounts.id"), index=True),
    Column("move_in_date", Date),
    Column("move_out_date", Date),
    hashed=False,
)

work_orders = _synced(
    "work_orders",
    "One row per work order per integration; source_id is empty until a platform-made one is pushed.",
    Column("property_id", Key, ForeignKey("properties.id"), nullable=False, index=True),
    Column("unit_id", Key, ForeignKey("units.id")),
    Column("resident_id", Key, ForeignKey("residents.id")),
    Column("number", Integer),
    Column("title", Text),
    Column("description", Text),
    Column("priority", String(20)),
    Column("status", SourceText),
    Column("category", SourceText),
    Column("type", SourceText),
    Column("managed_by", SourceText),
    Column("requested_by", SourceText),
    Column("lease_name", SourceText),
    Column("assigned_manager_source_id", BigInteger),
    Column("assigned_manager_name", SourceText),
    Column("assigned_manager_email", SourceText),
    Column("origin", String(20), nullable=False, default="source"),
    Column("custom_fields", Json),
    Column("push_marker", String(64), unique=True),
    Column("sync_status", String(10)),
    Column("sync_error", Text),
    Column("last_push_attempt_at", UtcDateTime()),
    Column("push_claimed_until", UtcDateTime()),
    Column("push_claim_token", String(32)),
    source_id_required=False,
)

work_order_changes = Table(
    "work_order_changes",
    metadata,
    _pk(),
    Column("work_order_id", Key, ForeignKey("work_orders.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("payload", Json, nullable=False),
    Column("marker", String(64), nullable=False, unique=True),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_attempt_at", UtcDateTime()),
    Column("last_error", Text),
    Column("source_result_id", BigInteger),
    Column("sent_at", UtcDateTime()),
    Column("created_at", UtcDateTime(), nullable=False),
    Index(None, "work_order_id", "id"),
    Index(None, "status"),
    comment="One row per change made to a work order on the platform, sent to the source in id order.",
)

owners = _synced(
    "owners",
    "One row per property owner per integration (imported by CSV, not synced automatically).",
    Column("group_name", String(120), nullable=False, default="Owners"),
    Column("first_name", String(120)),
    Column("last_name", String(120)),
    Column("company", String(300)),
    Column("email", String(320)),
    Column("phone", String(60)),
    hashed=False,
)

service_providers = _synced(
    "service_providers",
    "One row per service provider (vendor) per integration (imported by CSV, not synced automatically).",
    Column("company_name", String(300)),
    Column("contact_name", String(200)),
    Column("email", String(320)),
    Column("phone", String(60)),
    Column("trade", String(120)),
    hashed=False,
)

lease_charges = _synced(
    "lease_charges",
    "One row per lease charge (Propertyware ChargeTx) per integration.",
    Column("lease_id", Key, ForeignKey("leases.id"), nullable=False, index=True),
    Column("post_date", Date),
    Column("amount", Money),
    Column("amount_due", Money),
    Column("amount_paid", Money),
    Column("gl_account_source_id", BigInteger),
    Column("ref_no", SourceText),
    Column("comments", Text),
)

lease_payments = _synced(
    "lease_payments",
    "One row per lease payment (Propertyware Payment) per integration.",
    Column("lease_id", Key, ForeignKey("leases.id"), nullable=False, index=True),
    Column("contact_source_id", BigInteger),
    Column("post_date", Date),
    Column("amount", Money),
    Column("payment_type", String(40)),
    Column("ref_no", SourceText),
    Column("deposit_date", Date),
    Column("is_deposited", Boolean),
    Column("comments", Text),
)

LEASE_BALANCES_VIEW = "lease_balances"
"""A view (migration 0004), one row per lease per integration: `balance` is the source's leaseBalance (what the
tenant owes now, as the system of record computes it), beside the synced active charges (`charged`, `open_charges` =
their amountDue) and payments (`paid`), their counts and latest post dates."""

property_logs = Table(
    "property_logs",
    metadata,
    _pk(),
    Column("property_id", Key, ForeignKey("properties.id"), nullable=False, index=True),
    Column("logged_at", UtcDateTime(), nullable=False),
    Column("event", String(60), nullable=False),
    Column("message", Text, nullable=False),
    Column("run_id", Key, ForeignKey("sync_runs.id")),
    comment="One row per event logged on a property (deactivations, reactivations, …).",
)

reconciliation_snapshots = Table(
    "reconciliation_snapshots",
    metadata,
    _pk(),
    Column("integration_id", Key, ForeignKey("integrations.id"), nullable=False),
    Column("run_id", Key, ForeignKey("sync_runs.id"), nullable=False),
    Column("taken_at", UtcDateTime(), nullable=False),
    Column("source_unit_count", Integer, nullable=False),
    Column("platform_active_unit_count", Integer, nullable=False),
    Column("reactivated_unit_count", Integer, nullable=False, server_default="0"),
    Column("deactivated_property_count", Integer, nullable=False, server_default="0"),
    Column("mass_deactivation_allowed", Boolean, nullable=False, server_default="0"),
    Index(None, "integration_id", "taken_at"),
    comment="One row per property reconciliation run: the snapshot analysts export.",
)

snapshot_deactivated_units = Table(
    "snapshot_deactivated_units",
    metadata,
    Column("snapshot_id", Key, ForeignKey("reconciliation_snapshots.id"), primary_key=True),
    Column("unit_id", Key, ForeignKey("units.id"), primary_key=True),
    Column("property_id", Key, ForeignKey("properties.id"), nullable=False),
    Column("deactivated_at", UtcDateTime(), nullable=False),
    Column("reason", Text, nullable=False),
    Column("source_evidence", String(40), nullable=False),
    Index(None, "unit_id"),
    comment="One row per unit a reconciliation snapshot deactivated.",
)

snapshot_reactivated_units = Table(
    "snapshot_reactivated_units",
    metadata,
    Column("snapshot_id", Key, ForeignKey("reconciliation_snapshots.id"), primary_key=True),
    Column("unit_id", Key, ForeignKey("units.id"), primary_key=True),
    Column("property_id", Key, ForeignKey("properties.id"), nullable=False),
    Column("reactivated_at", UtcDateTime(), nullable=False),
    Column("reason", Text, nullable=False),
    Index(None, "unit_id"),
    comment="One row per unit a reconciliation snapshot reactivated (listed as active in the source again).",
)

snapshot_deactivated_properties = Table(
    "snapshot_deactivated_properties",
    metadata,
    Column("snapshot_id", Key, ForeignKey("reconciliation_snapshots.id"), primary_key=True),
    Column("property_id", Key, ForeignKey("properties.id"), primary_key=True),
    Column("deactivated_at", UtcDateTime(), nullable=False),
    Column("reason", Text, nullable=False),
    Column("source_evidence", String(40), nullable=False),
    Index(None, "property_id"),
    comment="One row per property a reconciliation snapshot deactivated.",
)

record_changes = Table(
    "record_changes",
    metadata,
    _pk(),
    Column("run_id", Key, ForeignKey("sync_runs.id"), nullable=False),
    Column("integration_id", Key, ForeignKey("integrations.id"), nullable=False),
    Column("entity", String(40), nullable=False),
    Column("source_id", BigInteger, nullable=False),
    Column("action", String(20), nullable=False),
    Column("changes", JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")),
    Column("changed_at", UtcDateTime(), nullable=False),
    UniqueConstraint("run_id", "entity", "source_id"),
    Index(None, "integration_id", "entity", "source_id"),
    Index(None, "changed_at"),
    comment=(
        "One row per record a run changed: created, updated, deactivated or reactivated by a sync, reconciliation, "
        "balance or CSV import; changes holds each changed field as {field: [old, new]} (NULL for a creation). Kept "
        "PMSYNC_CHANGES_RETENTION_DAYS days."
    ),
)

SYNCED_TABLES: dict[str, Table] = {
    "property": properties,
    "unit": units,
    "lease": leases,
    "resident": residents,
    "work_order": work_orders,
    "owner": owners,
    "service_provider": service_providers,
    "charge": lease_charges,
    "payment": lease_payments,
}
