"""Unchanged records cost a hash compare: each record's payload hash against the hash kept on its platform row."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from pmsync.platform.database import among
from pmsync.sync.held import HELD_UNCHANGED, derived_still_held, still_held
from pmsync.sync.rule_types import RuleTable, Stream
from pmsync.source import SourcePage
from pmsync.sync.scope import SyncSession
from schemas.source_values import storable
from schemas.entity_rows import ENTITY_ROWS, addressed, rows_of

HASH_VERSION = "1"
"""Part of every hash: raise it when a change to the rules or the records code changes what a payload becomes, so
every record is checked and applied again once."""

SOURCE_HASHES = "source_hashes"
"""`SourcePage.extra` key: {record id: payload hash} of the records left on the page (apply_page stores them)."""
SKIPPED_COUNTS = "unchanged_counts"
"""`SourcePage.extra` key: {entity: Counter} of what the records dropped as unchanged count for (fetched, unchanged,
excluded: a lease's contacts that are not residents)."""
KNOWN_ROWS = "known_rows"
"""`SourcePage.extra` key: ids of the records left on the page that applying would leave exactly as their platform row
is (pmsync.sync.known_rows); they pass the quality gate unchecked, and apply_page stores their hash."""

ACTIVE_FROM_SOURCE: dict[str, Callable[[Any], bool]] = {"lease": lambda record: bool(record.active)}
"""Entities whose row's `active` is the source's own value. Any other row skips only when active: a deactivation made
on the platform (reconciliation, a charge retired by the balance) is undone only by applying the record again."""


def payload_hash(raw: dict[str, Any], salt: str = "") -> str:
    """A short hex digest of the payload's canonical JSON (sorted keys), salted with HASH_VERSION and `salt`."""
    try:
        body = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # a lone surrogate or an integer beyond 64 bits: the standard library writes both
        body = json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{HASH_VERSION}\0{salt}\0".encode())
    digest.update(body)
    return digest.hexdigest()


def hash_salt(rules: RuleTable, integration_user: str, suites: str = "") -> str:
    """What besides the payload decides how a record applies: the rule table, the integration user and the digest of
    the quality suites it is checked against."""
    salt = f"{rules.source_system}\0{integration_user.strip().lower()}"
    return f"{salt}\0{suites}" if suites else salt


def record_salt(session: SyncSession) -> str:
    """The hash salt of the session's records: editing a quality suite makes the next run check every record again
    (a tightened suite quarantines what it now fails; a loosened one applies what it used to hold back)."""
    integration = session.integration
    return hash_salt(integration.rules, integration.integration_user, suites_digest(session.expectations_dir))


def suites_digest(directory: Path | None) -> str:
    """A digest of the suites' content (each file's parsed JSON, so reformatting one changes nothing); "" for none."""
    if directory is None:
        return ""
    files = sorted(directory.glob("*.json"))
    return _suites_digest(tuple((str(path), path.stat().st_mtime_ns, path.stat().st_size) for path in files))


@lru_cache(maxsize=16)
def _suites_digest(files: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.blake2b(digest_size=8)
    for path, _, _ in files:
        content = json.loads(Path(path).read_text(encoding="utf-8"))
        digest.update(Path(path).name.encode() + b"\0" + json.dumps(content, sort_keys=True).encode() + b"\0")
    return digest.hexdigest()


def hashed_entity(stream: Stream) -> str | None:
    """The entity whose rows are the stream's records' own rows, if the sync keeps its records' payload hashes: its
    table keeps a source hash, or it is the stream's only entity (a record held back keeps its hash on
    unapplied_records, whatever its table)."""
    rows = ENTITY_ROWS.get(stream.entities[0])
    return stream.entities[0] if rows is not None and (rows.hashed or len(stream.entities) == 1) else None


def page_hashes(page: SourcePage, salt: str) -> dict[int, str]:
    """{record id: payload hash} of a page: carried by drop_unchanged, else computed."""
    found = page.extra.get(SOURCE_HASHES)
    if found is None:
        found = {record.id: payload_hash(raw, salt) for record, raw in zip(page.records, page.raw)}
    return found


def drop_unchanged(session: SyncSession, stream: Stream, pages: list[SourcePage]) -> list[SourcePage]:
    """The pages without the records whose payload hash equals their platform row's (an active row, or one whose
    `active` is the source's own and matches; a table without hashes has none); one SELECT for the whole batch.
    Records held back (excluded or parked) with the payload they have now leave too, unless their verdict, or a
    derived row's, may have changed (pmsync.sync.held); they and their derived rows count as held again.

    Each returned page carries the hashes of the records left (SOURCE_HASHES), what the dropped ones count for
    (SKIPPED_COUNTS) and the held ones dropped (HELD_UNCHANGED); apply_page uses all three."""
    entity = hashed_entity(stream)
    if entity is None:
        return pages
    integration = session.integration
    salt = record_salt(session)
    hashes = [{record.id: payload_hash(raw, salt) for record, raw in zip(page.records, page.raw)} for page in pages]
    ids = [source_id for mine in hashes for source_id in mine]
    if not ids:
        return pages
    rows = rows_of(entity)
    table = rows.table
    active_of = ACTIVE_FROM_SOURCE.get(entity, lambda record: True)
    with session.engine.connect() as connection:
        stored = {
            row.source_id: (row.source_hash, row.active)
            for row in connection.execute(
                select(table.c.source_id, table.c.source_hash, table.c.active).where(
                    rows.mine(session.integration_id),
                    among(connection, table.c.source_id, ids),
                    table.c.source_hash.is_not(None),
                )
            )
        } if rows.hashed else {}
        same = {
            record.id for page, mine in zip(pages, hashes) for record in page.records
            if stored.get(record.id) == (mine[record.id], active_of(record))
        }
        pending = {source_id: digest for mine in hashes for source_id, digest in mine.items() if source_id not in same}
        held = still_held(connection, session.integration_id, entity, pending)
        derived = {record_id: {} for record_id in held}
        if held and len(stream.entities) > 1:
            records = {record.id: (record, raw) for page in pages for record, raw in zip(page.records, page.raw)
                       if record.id in held}
            derived = derived_still_held(connection, session.integration_id, integration.rules,
                                         integration.integration_user, stream.entities[1:], records,
                                         lambda raw: payload_hash(raw, salt))
    result = []
    for page, mine in zip(pages, hashes):
        kept, skipped, still = [], [], {entity: {}}
        for record, raw in zip(page.records, page.raw):
            if record.id in derived and mine[record.id] == pending[record.id]:  # not a copy changed in between
                still[entity][record.id] = held[record.id]
                for other, statuses in derived[record.id].items():
                    still.setdefault(other, {}).update(statuses)
            else:
                (skipped if record.id in same else kept).append((record, raw))
        counts = _skipped_counts(stream, integration.rules, integration.integration_user, skipped)
        for held_entity, statuses in still.items():
            if statuses:
                counts.setdefault(held_entity, Counter()).update(fetched=len(statuses), **Counter(statuses.values()))
        result.append(replace(
            page,
            records=[record for record, _ in kept],
            raw=[raw for _, raw in kept],
            extra={**page.extra, SOURCE_HASHES: {record.id: mine[record.id] for record, _ in kept},
                   SKIPPED_COUNTS: counts, HELD_UNCHANGED: still},
        ))
    return result


def unchecked(page: SourcePage, entity: str) -> int:
    """How many of the page's `entity` records drop_unchanged took off unchecked: unchanged, or held unchanged (the
    quality gate's failure share counts them among the page's records)."""
    counted = page.extra.get(SKIPPED_COUNTS, {}).get(entity, {}).get("unchanged", 0)
    return counted + len(page.extra.get(HELD_UNCHANGED, {}).get(entity, {}))


def _skipped_counts(stream: Stream, rules: RuleTable, integration_user: str, skipped: list[tuple]) -> dict[str, Counter]:
    """What unchanged records count for: each is fetched and unchanged; the rows derived from it (a lease's residents)
    too, or excluded as their rule says (a record applied cleanly had no derived row parked or quarantined)."""
    counts: dict[str, Counter] = {}
    if not skipped:
        return counts
    own, *derived = stream.entities
    counts[own] = Counter(fetched=len(skipped), unchanged=len(skipped))
    if not derived:
        return counts
    verdicts: dict[tuple[str, int], bool] = {}
    for record, raw in skipped:
        for candidate in addressed(record.rows(raw)):  # not .candidates(): only facts a rule reads need storable text
            if candidate.entity in derived:
                candidate.facts = storable(candidate.facts)
                key = (candidate.entity, candidate.source_id)
                included = rules.rules[candidate.entity].include.exclusion(candidate, integration_user) is None
                verdicts[key] = verdicts.get(key, False) or included
    for (entity, _), included in verdicts.items():
        counts.setdefault(entity, Counter()).update(fetched=1, **{"unchanged" if included else "excluded": 1})
    return counts
