""" "Is this you?": candidate persons of the caller and their answers (mobile clients).

Paths::

    GET  /users/me/candidates?group_id=       up to 10 persons that may be the caller
    POST /users/me/candidates/{person_id}     {"is_me": true|false}

Rule and storage: :mod:`findme.services.candidates`; client guide: ``docs/candidates.md``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from findme.services import candidates as svc
from findme.services.curation_access import thumbnail_url
from findme.web import deps
from findme.web.errors import error_responses
from findme.web.ratelimit import RATE_LIMIT_KEY
from findme.web.routes.curation_common import AUTH_ERRORS, LIMIT_READ, LIMIT_WRITE
from findme.web.schemas.candidates import (
    CandidateAnswerIn,
    CandidateAnswerOut,
    CandidateList,
    CandidateOut,
)
from findme.web.schemas.person_links import person_link_out

router = APIRouter(tags=["candidates"], responses=AUTH_ERRORS)


@router.get(
    "/users/me/candidates",
    summary='"Is this you?": persons that may be you in a group',
    openapi_extra={RATE_LIMIT_KEY: LIMIT_READ},
)
def list_candidates(
    group_id: Annotated[str, Query(min_length=1, max_length=2048, description="The group.")],
    principal: deps.CurrentUser,
    settings: deps.SettingsDep,
    metadata: deps.Metadata,
    vectors: deps.Vectors,
    objects: deps.Objects,
) -> CandidateList:
    """Persons too close to you to ignore but not close enough to be given as yours (their
    photos are not in ``GET /get`` until you answer), best first, at most 10. 403
    ``access_denied`` for a non-member; 404 unknown group."""
    found = svc.list_candidates(metadata, vectors, settings, principal, group_id)
    return CandidateList(
        group_id=group_id,
        items=[
            CandidateOut(
                person_id=c.person_id,
                group_id=c.group_id,
                score=c.score,
                face_count=c.face_count,
                thumbnail_url=(
                    thumbnail_url(objects, c.cover_face, expires_s=settings.presigned_url_expiry_s)
                    if c.cover_face is not None
                    else None
                ),
            )
            for c in found
        ],
    )


@router.post(
    "/users/me/candidates/{person_id}",
    summary='Answer "Is this you?" for a person',
    responses=error_responses(400, 401, 403, 404, 409, 422),
    openapi_extra={RATE_LIMIT_KEY: LIMIT_WRITE},
)
def answer_candidate(
    person_id: str,
    body: CandidateAnswerIn,
    principal: deps.CurrentUser,
    settings: deps.SettingsDep,
    metadata: deps.Metadata,
    vectors: deps.Vectors,
) -> CandidateAnswerOut:
    """``is_me: true`` makes the person yours (a ``confirmed`` person link: its photos are in
    ``GET /get`` from now on); ``false`` stores its faces as "not me": it is never offered
    or given to you again, even after a re-cluster. 403 ``not_a_candidate`` for a person that
    is neither offered nor matched to you; 404 unknown person; 409 ``person_assigned`` when
    a curator or another user holds it."""
    done = svc.answer_candidate(metadata, vectors, settings, principal, person_id, is_me=body.is_me)
    return CandidateAnswerOut(
        person_id=done.person_id,
        group_id=done.group_id,
        is_me=done.is_me,
        assignment=person_link_out(done.person_link) if done.person_link else None,
        faces_rejected=done.faces_rejected,
        message="Added to your photos." if done.is_me else "We won't ask about this person again.",
    )
