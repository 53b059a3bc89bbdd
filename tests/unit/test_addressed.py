"""addressed(): its cached renaming of parents gives what naming each candidate's entity and parents one by one gives."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.entity_rows import ENTITY_ROWS, addressed
from schemas.records import Candidate

NAMES = [*ENTITY_ROWS, "lease_tenant", "task"]
SHARED = ["property", "association", "unit", "association_unit", "resident", "association_owner", "lease"]
"""Entities whose tables hold several kinds (and one that does not): where naming by kind renames."""
KINDS = st.one_of(st.none(), st.sampled_from(SHARED), st.sampled_from(NAMES), st.integers(), st.just(["unhashable"]))


def one_by_one(candidates: list[Candidate]) -> list[Candidate]:
    """addressed() as first written: every candidate's entity and parents named through their kinds, one by one."""

    def entity_for(named: str, kind: object) -> str:
        if isinstance(kind, str) and kind in ENTITY_ROWS and named in ENTITY_ROWS:
            if ENTITY_ROWS[kind].table is ENTITY_ROWS[named].table:
                return kind
        return named

    found = []
    for candidate in candidates:
        kinds = candidate.facts.get("parent_kinds") or {}
        entity = entity_for(candidate.entity, candidate.facts.get("source_kind"))
        parents = {entity_for(parent, kinds.get(parent)): source_id for parent, source_id in candidate.parents.items()}
        if entity == candidate.entity and parents == candidate.parents and list(parents) == list(candidate.parents):
            found.append(candidate)
        else:
            found.append(replace(candidate, entity=entity, parents=parents))
    return found


candidates = st.builds(
    Candidate,
    entity=st.one_of(st.sampled_from(SHARED), st.sampled_from(NAMES)),
    source_id=st.integers(1, 50),
    columns=st.just({"name": "x"}),
    parents=st.dictionaries(st.sampled_from(SHARED), st.one_of(st.none(), st.integers(1, 50)), max_size=4),
    facts=st.fixed_dictionaries({}, optional={
        "source_kind": KINDS,
        "parent_kinds": st.one_of(st.none(), st.dictionaries(st.sampled_from(SHARED), KINDS, max_size=5)),
    }),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(candidates, max_size=6))
def test_addressed_names_entities_and_parents_as_one_by_one_naming_does(generated):
    expected = one_by_one(generated)
    got = addressed(generated)
    assert [(c.entity, c.source_id, c.parents, list(c.parents)) for c in got] == \
        [(c.entity, c.source_id, c.parents, list(c.parents)) for c in expected]
    assert [g is c for g, c in zip(got, generated)] == [e is c for e, c in zip(expected, generated)]
