"""Person ids that stay put across clusterings: steps 3 and 4 of
:func:`findme.domain.clustering.cluster_faces`, and the cannot-link codes step 1 uses.

New clusters are matched to the persons their faces belonged to before by maximum total
overlap (Hungarian assignment, Kuhn 1955, via :func:`scipy.optimize.linear_sum_assignment`,
per connected block of the overlap graph; named persons win ties); an unmatched cluster
holding manual faces of person P becomes P, any other gets a new id. Persons left with no
face are removed, and one at least half of whose faces went to a surviving person is
reported as merged into it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: Largest overlap block solved exactly (rows × columns); bigger blocks are matched greedily.
MAX_EXACT_BLOCK = 4_000_000

#: Tie-break weight for persons with a curator-given name: never outweighs one shared face.
NAMED_BONUS = 0.5


@dataclass(slots=True)
class PersonPlan:
    """One person after clustering.

    Attributes:
        person_id: kept id (matched by overlap or named by a manual face) or a new uuid4.
        face_indices: ``(k,) intp`` indices into the input faces, ascending.
        is_new: ``True`` when the id did not exist before this run.
        merged_from: removed persons most of whose faces now belong to this one.
    """

    person_id: str
    face_indices: NDArray[np.intp]
    is_new: bool
    merged_from: tuple[str, ...] = ()


def match_overlap(
    rows: NDArray[np.intp], cols: NDArray[np.intp], weight: NDArray[np.float64]
) -> dict[int, int]:
    """Maximum-weight one-to-one matching of clusters (rows) to old persons (cols).

    Solved exactly (Hungarian) per connected block of the bipartite overlap graph; blocks
    over :data:`MAX_EXACT_BLOCK` cells fall back to greedy by weight.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if rows.size == 0:
        return {}
    r_ids, r_idx = np.unique(rows, return_inverse=True)
    c_ids, c_idx = np.unique(cols, return_inverse=True)
    nr, nc = r_ids.size, c_ids.size
    bip = coo_matrix((np.ones(rows.size), (r_idx, nr + c_idx)), shape=(nr + nc, nr + nc)).tocsr()
    _, block = connected_components(bip, directed=False)
    matched: dict[int, int] = {}
    edge_block = block[r_idx]
    order = np.argsort(edge_block, kind="stable")
    bounds = np.flatnonzero(np.diff(edge_block[order])) + 1
    for sel in np.split(order, bounds):
        br, bc = np.unique(r_idx[sel]), np.unique(c_idx[sel])
        if br.size * bc.size <= MAX_EXACT_BLOCK:
            dense = np.zeros((br.size, bc.size))
            dense[np.searchsorted(br, r_idx[sel]), np.searchsorted(bc, c_idx[sel])] = weight[sel]
            ri, ci = linear_sum_assignment(dense, maximize=True)
            for a, b in zip(ri.tolist(), ci.tolist(), strict=True):
                if dense[a, b] > 0:
                    matched[int(r_ids[br[a]])] = int(c_ids[bc[b]])
        else:
            used: set[int] = set()
            for e in sel[np.argsort(-weight[sel], kind="stable")].tolist():
                r, c = int(r_ids[r_idx[e]]), int(c_ids[c_idx[e]])
                if r not in matched and c not in used:
                    matched[r] = c
                    used.add(c)
    return matched


@dataclass(frozen=True, slots=True)
class Constraints:
    """The cannot-link rules as integer codes per face.

    Attributes:
        image_codes: ``(N,) intp`` photo of each face (0..photos-1).
        pinned: ``(N,) bool`` manual faces that keep their person.
        pinned_person: per face, the person a pinned face keeps (``None``: not pinned, or
            pinned unassigned).
        manual_names: the persons of pinned faces, sorted; ``manual_codes`` index it.
        manual_codes: ``(N,) intp`` index into ``manual_names``, ``-1`` for other faces.
    """

    image_codes: NDArray[np.intp]
    pinned: NDArray[np.bool_]
    pinned_person: list[str | None]
    manual_names: list[str]
    manual_codes: NDArray[np.intp]

    @classmethod
    def build(
        cls,
        image_ids: Sequence[str],
        person_ids: Sequence[str | None],
        manual: Sequence[bool],
        preserve_manual: bool,
    ) -> Constraints:
        _, image_codes_u = np.unique(np.asarray(image_ids, dtype=object), return_inverse=True)
        pinned = np.asarray(manual, dtype=bool) & preserve_manual
        pinned_person: list[str | None] = [
            p if m else None for p, m in zip(person_ids, pinned, strict=True)
        ]
        manual_names = sorted({p for p in pinned_person if p is not None})
        manual_code_of = {p: i for i, p in enumerate(manual_names)}
        manual_codes = np.array(
            [manual_code_of[p] if p is not None else -1 for p in pinned_person], dtype=np.intp
        )
        return cls(
            image_codes=image_codes_u.astype(np.intp).reshape(-1),
            pinned=pinned,
            pinned_person=pinned_person,
            manual_names=manual_names,
            manual_codes=manual_codes,
        )


@dataclass(frozen=True, slots=True)
class OldPersons:
    """The persons faces belonged to before this run.

    Attributes:
        names: the old person ids, sorted; ``codes`` index it.
        code_of: person id -> its index in ``names``.
        codes: ``(N,) intp`` each face's old person, ``-1`` when it had none.
    """

    names: list[str]
    code_of: dict[str, int]
    codes: NDArray[np.intp]

    @classmethod
    def build(cls, person_ids: Sequence[str | None]) -> OldPersons:
        names = sorted({p for p in person_ids if p is not None})
        code_of = {p: i for i, p in enumerate(names)}
        codes = np.array([code_of[p] if p is not None else -1 for p in person_ids], dtype=np.intp)
        return cls(names, code_of, codes)


def stable_person_ids(
    comp: NDArray[np.intp],
    old: OldPersons,
    rules: Constraints,
    named_person_ids: Collection[str],
    new_person_id: Callable[[], str],
) -> list[str | None]:
    """Step 3: a person id per face. Each cluster takes the old person it overlaps most
    (named persons win ties), else the person of its manual faces, else a new id; pinned
    faces keep their person; noise (``comp < 0``) gets ``None``."""
    old_codes = old.codes
    has_old = (comp >= 0) & (old_codes >= 0)
    pair_keys, pair_counts = np.unique(
        np.stack([comp[has_old], old_codes[has_old]]), axis=1, return_counts=True
    )
    bonus = np.array(
        [NAMED_BONUS if old.names[c] in named_person_ids else 0.0 for c in pair_keys[1].tolist()]
    )
    matched = match_overlap(
        pair_keys[0].astype(np.intp), pair_keys[1].astype(np.intp), pair_counts + bonus
    )
    comp_ids = np.unique(comp[comp >= 0]).tolist()
    manual_codes = rules.manual_codes
    manual_of_comp: dict[int, str] = {}
    for c, m in zip(
        comp[manual_codes >= 0].tolist(), manual_codes[manual_codes >= 0].tolist(), strict=True
    ):
        if c >= 0:
            manual_of_comp.setdefault(c, rules.manual_names[m])
    comp_person: dict[int, str] = {}
    for c in comp_ids:
        if c in matched:
            comp_person[c] = old.names[matched[c]]
        elif c in manual_of_comp:
            comp_person[c] = manual_of_comp[c]
        else:
            comp_person[c] = new_person_id()

    final: list[str | None] = [comp_person[c] if c >= 0 else None for c in comp.tolist()]
    for i in np.flatnonzero(rules.pinned).tolist():
        final[i] = rules.pinned_person[i]
    return final


def plan_persons(
    final: Sequence[str | None], old: OldPersons, known_person_ids: Iterable[str]
) -> tuple[list[PersonPlan], list[str], dict[str, list[str]]]:
    """Step 4: the persons to write, the persons left with no face (removed), and which
    removed persons merged into which (a removed person at least half of whose faces went to
    one surviving person) -> ``(persons, removed, merged_into)``."""
    known = set(known_person_ids) | set(old.names)
    by_person: dict[str, list[int]] = {}
    for i, p in enumerate(final):
        if p is not None:
            by_person.setdefault(p, []).append(i)
    removed = sorted(known - set(by_person))
    merged_into: dict[str, list[str]] = {}
    removed_set = set(removed)
    for gone in removed:
        code = old.code_of.get(gone)
        if code is None:
            continue
        went = [final[i] for i in np.flatnonzero(old.codes == code).tolist()]
        tally = Counter(p for p in went if p is not None)
        if tally:
            target, count = tally.most_common(1)[0]
            if count * 2 >= len(went) and target not in removed_set:
                merged_into.setdefault(target, []).append(gone)
    persons = [
        PersonPlan(
            person_id=p,
            face_indices=np.asarray(faces, dtype=np.intp),
            is_new=p not in known,
            merged_from=tuple(merged_into.get(p, ())),
        )
        for p, faces in by_person.items()
    ]
    return persons, removed, merged_into
