"""The permission contract: every route of the API, called by every role, and the status
each must get (issue 12). The policy is ``findme.services.policy``; this is its table.

Roles: a platform ``admin`` (in no group), the group's ``owner``, ``photographer`` and
``member``, an ``outsider`` (signed in, not in the group) and ``anonymous`` (no token).
Needs (the policy's): READ (every member), UPLOAD (photographer, owner), CURATE and
ADMINISTER (owner); admins have every need everywhere.

Each route runs against a world of its own (fresh users, a fresh group with two photos, two
persons, a section, jobs and selfies), shared by the six roles; a route whose success by one
role would change what the next one gets (a delete, a merge, adding a member) gets a fresh
world per role (``fresh``). Requests are well formed: a caller with the right gets the
route's success status, so a row shows both who is let in and who is kept out.
``test_every_route_has_a_row`` makes a new route without a row fail.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import fakes
import pytest
from contracts.openapi import OpenApiDocument
from fakes import Api, build_api, detected, jpeg, new_phone
from findme.domain.records import (
    Face,
    Group,
    GroupRole,
    Image,
    ImageStatus,
    Job,
    JobType,
    Membership,
    Person,
    PersonLink,
    ReferenceFace,
    Role,
    Section,
    User,
)
from findme.ports import FaceVector
from findme.services.auth import TokenService
from findme.services.users import REFERENCE_GROUP

ROLES = ("admin", "owner", "photographer", "member", "outsider", "anonymous")
GROUP_ROLES = {
    "owner": GroupRole.OWNER,
    "photographer": GroupRole.PHOTOGRAPHER,
    "member": GroupRole.MEMBER,
}


# --- expected statuses, by what a route needs -------------------------------------------------
def _statuses(ok: int, allowed: set[str], refused: int = 403) -> dict[str, int]:
    return {
        role: ok if role in allowed else (401 if role == "anonymous" else refused) for role in ROLES
    }


def OPEN(ok: int = 200) -> dict[str, int]:  # noqa: N802 (a need, named like the policy's)
    return dict.fromkeys(ROLES, ok)


def SIGNED_IN(ok: int = 200) -> dict[str, int]:  # noqa: N802
    return _statuses(ok, set(ROLES) - {"anonymous"})


def READ(ok: int = 200) -> dict[str, int]:  # noqa: N802
    return _statuses(ok, {"admin", "owner", "photographer", "member"})


def UPLOAD(ok: int = 200) -> dict[str, int]:  # noqa: N802
    return _statuses(ok, {"admin", "owner", "photographer"})


def CURATE(ok: int = 200) -> dict[str, int]:  # noqa: N802
    return _statuses(ok, {"admin", "owner"})


ADMINISTER = CURATE


def SELF_OR_ADMIN(ok: int = 200) -> dict[str, int]:  # noqa: N802
    """Routes about one user (here: the member), for that user or a platform admin."""
    return _statuses(ok, {"admin", "member"})


def PLATFORM_ADMIN(ok: int = 200) -> dict[str, int]:  # noqa: N802
    return _statuses(ok, {"admin"})


# --- one world per (route, role) ---------------------------------------------------------------
@dataclass
class World:
    """A group with the three group roles, two one-face photos (the member's person and
    someone else's), a section, a cluster job, the member's download job and two selfies."""

    api: Api
    users: dict[str, User]
    tokens: dict[str, str]
    group: Group
    image_m: Image
    image_o: Image
    face_m: Face
    face_o: Face
    person_m: Person
    person_o: Person
    section: Section
    cluster_job: Job
    download_job: Job
    selfies: list[str]
    spare: User
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def gid(self) -> str:
        return self.group.group_id

    @property
    def member_id(self) -> str:
        return self.users["member"].user_id


def _user(stores: fakes.World, role: Role = Role.MEMBER, name: str = "User") -> User:
    user = User(user_id=str(uuid.uuid4()), phone_number=new_phone(), name=name, role=role)
    stores.metadata.put_user(user)
    return user


def _photo(stores: fakes.World, gid: str, person: Person) -> tuple[Image, Face]:
    """A processed photo of one face (with a thumbnail) in ``person``."""
    image_id = str(uuid.uuid4())
    key = f"originals/{gid}/{image_id}.jpg"  # no bytes: no row reads the original
    image = Image(
        image_id=image_id,
        group_id=gid,
        s3_key=key,
        status=ImageStatus.PROCESSED,
        face_count=1,
        width=64,
        height=48,
    )
    stores.metadata.put_image(image)
    face_id = str(uuid.uuid5(uuid.UUID(image_id), "0"))
    thumb = f"faces/{gid}/{face_id}.jpg"
    stores.objects.put(thumb, jpeg(seed=5), "image/jpeg")
    face = Face(
        face_id=face_id,
        image_id=image_id,
        group_id=gid,
        face_index=0,
        bbox={"x": 4, "y": 4, "w": 40, "h": 40},
        landmarks={},
        confidence=0.95,
        blur_score=0.9,
        brightness_score=0.6,
        overall_quality=0.8,
        quality_grade="B",
        person_id=person.person_id,
        thumbnail_key=thumb,
    )
    stores.metadata.put_faces([face])
    stores.vectors.upsert(
        [FaceVector(face_id, gid, image_id, stores.identity(), person_id=person.person_id)]
    )
    return image, face


def make_world(api: Api) -> World:
    s = api.stores
    tokens = TokenService(api.settings, api.settings.jwt_secret.get_secret_value())  # type: ignore[union-attr]
    users = {
        "admin": _user(s, Role.ADMIN, "Admin"),
        **{role: _user(s, name=role.title()) for role in (*GROUP_ROLES, "outsider")},
    }
    group = Group(
        group_id=str(uuid.uuid4()),
        name="Gala",
        owner_id=users["owner"].user_id,
        invite_code=uuid.uuid4().hex[:10].upper(),
        photographer_invite_code=uuid.uuid4().hex[:10].upper(),
    )
    s.metadata.put_group(group)
    for role, group_role in GROUP_ROLES.items():
        s.metadata.put_membership(Membership(group.group_id, users[role].user_id, group_role))
    gid = group.group_id
    person_m = Person(person_id=str(uuid.uuid4()), group_id=gid, name="Mia")
    person_o = Person(person_id=str(uuid.uuid4()), group_id=gid, name="Otto")
    image_m, face_m = _photo(s, gid, person_m)
    image_o, face_o = _photo(s, gid, person_o)
    for person, face in ((person_m, face_m), (person_o, face_o)):
        person.face_count = person.image_count = 1
        person.cover_face_id = face.face_id
    person_m.linked_user_id = users["member"].user_id
    s.metadata.put_person(person_m)
    s.metadata.put_person(person_o)
    s.metadata.put_person_link(
        PersonLink(gid, person_m.person_id, users["member"].user_id, 0.8, "evidence")
    )
    section = Section(group_id=gid, section_id=str(uuid.uuid4()), name="Ceremony")
    s.metadata.put_section(section)
    selfies = []
    for _ in range(2):
        face_id = str(uuid.uuid4())
        key = f"selfies/{users['member'].user_id}/{face_id}.jpg"  # presigned, never read
        s.metadata.put_reference_face(ReferenceFace(users["member"].user_id, face_id, key))
        s.vectors.upsert(
            [
                FaceVector(
                    face_id,
                    REFERENCE_GROUP,
                    face_id,
                    s.identity(),
                    kind="reference",
                    user_id=users["member"].user_id,
                )
            ]
        )
        selfies.append(face_id)
    cluster_job = Job(
        job_id=str(uuid.uuid4()),
        job_type=JobType.CLUSTER,
        group_id=gid,
        user_id=users["owner"].user_id,
    )
    download_job = Job(
        job_id=str(uuid.uuid4()), job_type=JobType.DOWNLOAD, user_id=users["member"].user_id
    )
    s.metadata.put_job(cluster_job)
    s.metadata.put_job(download_job)
    return World(
        api=api,
        users=users,
        tokens={role: tokens.issue(user).access_token for role, user in users.items()},
        group=group,
        image_m=image_m,
        image_o=image_o,
        face_m=face_m,
        face_o=face_o,
        person_m=person_m,
        person_o=person_o,
        section=section,
        cluster_job=cluster_job,
        download_job=download_job,
        selfies=selfies,
        spare=_user(s, name="Spare"),
    )


# --- requests -------------------------------------------------------------------------------------
Request = dict[str, Any]


def _otp(w: World, phone: str) -> str:
    assert w.api.client.post("/auth/otp", json={"phone_number": phone}).status_code == 200
    return w.api.sms.last_code(phone)


def _register(w: World) -> Request:
    phone = new_phone()
    code = _otp(w, phone)
    selfie = w.api.engine.register(jpeg(seed=int(phone[-6:])), [detected(w.api.stores.identity())])
    return {
        "data": {"name": "New", "phone_number": phone, "otp": code},
        "files": {"selfie": ("me.jpg", selfie, "image/jpeg")},
    }


def _register_upload(w: World) -> Request:
    phone = new_phone()
    return {"json": {"phone_number": phone, "otp": _otp(w, phone), "content_type": "image/jpeg"}}


def _sign_in(w: World) -> Request:
    phone = w.users["member"].phone_number
    return {"json": {"phone_number": phone, "otp": _otp(w, phone)}}


def _image(w: World) -> Request:
    return {"files": {"image": ("p.jpg", jpeg(seed=11), "image/jpeg")}}


def _selfie(w: World) -> Request:
    selfie = w.api.engine.register(jpeg(seed=12), [detected(w.api.stores.identity())])
    return {"files": {"selfie": ("me.jpg", selfie, "image/jpeg")}}


def _upload(w: World) -> Request:
    return {
        "data": {"group_id": w.gid},
        "files": [("files", ("a.jpg", jpeg(seed=13), "image/jpeg"))],
    }


@dataclass(frozen=True)
class Row:
    """One route (``variant``: the same route on another resource) and who gets what."""

    method: str
    template: str
    request: Callable[[World], tuple[str, Request]]
    expected: dict[str, int]
    variant: str = ""
    #: The code of a 403 other than the policy's (a refusal about the request itself).
    codes: dict[str, str] = field(default_factory=dict)
    #: A world per role: one role's success would change the next one's answer.
    fresh: bool = False

    @property
    def id(self) -> str:
        return f"{self.method} {self.template}" + (f" [{self.variant}]" if self.variant else "")


def row(
    method: str,
    template: str,
    expected: dict[str, int],
    path: Callable[[World], str] | None = None,
    body: Callable[[World], Request] | None = None,
    variant: str = "",
    codes: dict[str, str] | None = None,
    fresh: bool = False,
) -> Row:
    def request(w: World) -> tuple[str, Request]:
        return (path(w) if path else template), (body(w) if body else {})

    return Row(method, template, request, expected, variant, codes or {}, fresh)


def _g(suffix: str = "") -> Callable[[World], str]:
    return lambda w: f"/groups/{w.gid}{suffix}"


def _json(value: Callable[[World], Any]) -> Callable[[World], Request]:
    return lambda w: {"json": value(w)}


def _params(value: Callable[[World], Any]) -> Callable[[World], Request]:
    return lambda w: {"params": value(w)}


TABLE: list[Row] = [
    # --- open, and the caller's own account ------------------------------------------------
    row("GET", "/", OPEN()),
    row("GET", "/health", OPEN()),
    row("POST", "/auth/otp", OPEN(), body=lambda w: {"json": {"phone_number": new_phone()}}),
    row("POST", "/register", OPEN(201), body=_register),
    row("POST", "/register/selfie-uploads", OPEN(), body=_register_upload),
    row("POST", "/auth/token", OPEN(), body=_sign_in, fresh=True),  # codes per phone per hour
    row("GET", "/users/me", SIGNED_IN()),
    row("DELETE", "/users/me", SIGNED_IN()),
    row("POST", "/users/me/selfies", SIGNED_IN(201), body=_selfie),
    row(
        "POST",
        "/users/me/selfie-uploads",
        SIGNED_IN(),
        body=_json(lambda w: {"content_type": "image/jpeg"}),
    ),
    row(
        "GET",
        "/users/{user_id}/selfies",
        SELF_OR_ADMIN(),
        path=lambda w: f"/users/{w.member_id}/selfies",
    ),
    row(
        "DELETE",
        "/users/{user_id}/selfies/{face_id}",
        SELF_OR_ADMIN(),
        path=lambda w: f"/users/{w.member_id}/selfies/{w.selfies[0]}",
        fresh=True,
    ),
    # --- stateless face routes -------------------------------------------------------------
    row("POST", "/get-faces", SIGNED_IN(), body=_image),
    row("POST", "/get-features", SIGNED_IN(), body=_image),
    row("POST", "/get-embedding", SIGNED_IN(), body=_image),
    row("POST", "/search-face", SIGNED_IN(), body=_image),
    # --- groups, members, invite codes -----------------------------------------------------
    row("POST", "/create-group", SIGNED_IN(201), body=_json(lambda w: {"group_name": "New"})),
    row("GET", "/groups", SIGNED_IN()),
    row("GET", "/groups/{group_id}", READ(), path=_g()),
    row(
        "PATCH",
        "/groups/{group_id}",
        ADMINISTER(),
        path=_g(),
        body=_json(lambda w: {"group_name": "Renamed", "description": "Day 2"}),
    ),
    row("DELETE", "/groups/{group_id}", ADMINISTER(202), path=_g(), fresh=True),
    row(
        "POST",
        "/groups/{group_id}/join",
        SIGNED_IN(),
        path=_g("/join"),
        body=_json(lambda w: {"invite_code": w.group.invite_code}),
    ),
    row(
        "POST",
        "/join",
        SIGNED_IN(),
        body=_json(lambda w: {"invite_code": w.group.invite_code}),
    ),
    row(
        "POST",
        "/groups/{group_id}/invite-codes",
        ADMINISTER(),
        path=_g("/invite-codes"),
        body=_json(lambda w: {"role": "photographer"}),
    ),
    row("GET", "/groups/{group_id}/members", ADMINISTER(), path=_g("/members")),
    row(
        "POST",
        "/groups/{group_id}/members",
        ADMINISTER(201),
        path=_g("/members"),
        body=_json(lambda w: {"user_id": w.spare.user_id, "role": "photographer"}),
        fresh=True,
    ),
    row(
        "GET",
        "/groups/{group_id}/members/{user_id}",
        {**ADMINISTER(), "member": 200},  # yourself: READ
        path=lambda w: f"/groups/{w.gid}/members/{w.member_id}",
    ),
    row(
        "PATCH",
        "/groups/{group_id}/members/{user_id}",
        ADMINISTER(),
        path=lambda w: f"/groups/{w.gid}/members/{w.member_id}",
        body=_json(lambda w: {"role": "photographer"}),
    ),
    row(
        "DELETE",
        "/groups/{group_id}/members/{user_id}",
        {**ADMINISTER(), "member": 200},  # leaving: READ
        path=lambda w: f"/groups/{w.gid}/members/{w.member_id}",
        fresh=True,
    ),
    row(
        "POST",
        "/update-group",
        CURATE(),
        body=_json(lambda w: {"group_id": w.gid, "common_photo_ids": [w.image_o.image_id]}),
    ),
    # --- photos ------------------------------------------------------------------------------
    row("POST", "/upload", UPLOAD(202), body=_upload),
    row(
        "POST",
        "/groups/{group_id}/uploads",
        UPLOAD(),
        path=_g("/uploads"),
        body=_json(lambda w: {"files": [{"file_name": "a.jpg"}]}),
    ),
    row("GET", "/get", SIGNED_IN()),
    row("GET", "/get", READ(), body=_params(lambda w: {"group_id": w.gid}), variant="group"),
    row(
        "GET",
        "/get",
        {**CURATE(), "member": 200},  # another user's photos: the owners of their groups
        body=_params(lambda w: {"user_id": w.member_id}),
        variant="the member's, by user_id",
    ),
    row("GET", "/images/{image_id}", UPLOAD(), path=lambda w: f"/images/{w.image_m.image_id}"),
    row(
        "PUT",
        "/images/{image_id}",
        CURATE(),
        path=lambda w: f"/images/{w.image_m.image_id}",
        body=_json(lambda w: {"tags": ["stage"]}),
    ),
    row(
        "DELETE",
        "/images/{image_id}",
        UPLOAD(),
        path=lambda w: f"/images/{w.image_o.image_id}",
        fresh=True,
    ),
    row(
        "POST",
        "/download",
        READ(202),  # the member's own photo
        body=_json(lambda w: {"image_ids": [w.image_m.image_id]}),
    ),
    row(
        "POST",
        "/download",
        UPLOAD(202),
        body=_json(lambda w: {"image_ids": [w.image_o.image_id]}),
        variant="another's photo",
    ),
    row(
        "GET",
        "/download/{job_id}",
        _statuses(200, {"admin", "member"}, refused=404),  # others' jobs are not probed
        path=lambda w: f"/download/{w.download_job.job_id}",
    ),
    # --- jobs ------------------------------------------------------------------------------
    row(
        "POST",
        "/digest",
        UPLOAD(202),
        body=_json(lambda w: {"s3_bucket": w.api.settings.bucket, "group_id": w.gid}),
    ),
    row("POST", "/cluster-faces", CURATE(202), body=_json(lambda w: {"group_id": w.gid})),
    row(
        "GET",
        "/jobs/{job_id}",
        _statuses(200, {"admin", "owner", "photographer"}, refused=404),  # not probed
        path=lambda w: f"/jobs/{w.cluster_job.job_id}",
    ),
    # --- persons, clustering, person links (their former /assignments paths: see below) --------
    row("GET", "/groups/{group_id}/persons", READ(), path=_g("/persons")),
    row("GET", "/persons/{person_id}", READ(), path=lambda w: f"/persons/{w.person_m.person_id}"),
    row(
        "GET",
        "/persons/{person_id}",
        UPLOAD(),
        path=lambda w: f"/persons/{w.person_o.person_id}",
        variant="another's person",
    ),
    row(
        "PATCH",
        "/persons/{person_id}",
        CURATE(),
        path=lambda w: f"/persons/{w.person_o.person_id}",
        body=_json(lambda w: {"name": "Otto B"}),
    ),
    row(
        "POST",
        "/persons/{person_id}/merge",
        CURATE(),
        path=lambda w: f"/persons/{w.person_m.person_id}/merge",
        body=_json(lambda w: {"source_person_ids": [w.person_o.person_id]}),
        fresh=True,
    ),
    row(
        "GET",
        "/persons/{person_id}/images",
        READ(),
        path=lambda w: f"/persons/{w.person_m.person_id}/images",
    ),
    row("POST", "/groups/{group_id}/recluster", CURATE(202), path=_g("/recluster")),
    row("GET", "/groups/{group_id}/cluster-status", UPLOAD(), path=_g("/cluster-status")),
    row("POST", "/groups/{group_id}/person-links", CURATE(), path=_g("/person-links")),
    row("GET", "/groups/{group_id}/person-links", CURATE(), path=_g("/person-links")),
    row(
        "DELETE",
        "/groups/{group_id}/person-links/{person_id}",
        CURATE(),
        path=lambda w: f"/groups/{w.gid}/person-links/{w.person_m.person_id}",
        fresh=True,
    ),
    row(
        "GET",
        "/users/{user_id}/person-links",
        SELF_OR_ADMIN(),
        path=lambda w: f"/users/{w.member_id}/person-links",
    ),
    row(
        "GET",
        "/users/{user_id}/person-links/stats",
        SELF_OR_ADMIN(),
        path=lambda w: f"/users/{w.member_id}/person-links/stats",
    ),
    row(
        "GET",
        "/users/me/candidates",
        READ(),
        body=_params(lambda w: {"group_id": w.gid}),
    ),
    row(
        "POST",
        "/users/me/candidates/{person_id}",
        # the member's own person; other members are told it is not theirs to claim
        _statuses(200, {"member"}),
        path=lambda w: f"/users/me/candidates/{w.person_m.person_id}",
        body=_json(lambda w: {"is_me": True}),
        codes={"owner": "not_a_candidate", "photographer": "not_a_candidate"},
    ),
    # --- faces: review, move, delete, reprocess ------------------------------------------------
    row("GET", "/faces/{face_id}", UPLOAD(), path=lambda w: f"/faces/{w.face_o.face_id}"),
    row(
        "GET",
        "/faces/{face_id}/thumbnail",
        READ(),  # the member's own face
        path=lambda w: f"/faces/{w.face_m.face_id}/thumbnail",
    ),
    row(
        "GET",
        "/faces/{face_id}/thumbnail",
        UPLOAD(),
        path=lambda w: f"/faces/{w.face_o.face_id}/thumbnail",
        variant="another's face",
    ),
    row(
        "GET",
        "/faces/{face_id}/quality",
        UPLOAD(),
        path=lambda w: f"/faces/{w.face_o.face_id}/quality",
    ),
    row(
        "POST",
        "/faces/quality:batch",
        SIGNED_IN(),  # faces the caller may not review are skipped
        body=_json(lambda w: {"face_ids": [w.face_o.face_id]}),
    ),
    row(
        "GET",
        "/groups/{group_id}/faces/low-quality",
        UPLOAD(),
        path=_g("/faces/low-quality"),
    ),
    row(
        "POST",
        "/faces/{face_id}/move",
        CURATE(),
        path=lambda w: f"/faces/{w.face_o.face_id}/move",
        body=_json(lambda w: {"new_person_name": "Solo"}),
    ),
    row(
        "POST",
        "/faces:batch-delete",
        SIGNED_IN(),  # faces the caller may not delete are skipped
        body=_json(lambda w: {"face_ids": [w.face_o.face_id]}),
    ),
    row(
        "POST",
        "/faces/batch-delete",
        SIGNED_IN(),
        body=_json(lambda w: {"face_ids": [w.face_o.face_id]}),
    ),
    row(
        "POST",
        "/faces/{face_id}/reprocess",
        UPLOAD(202),
        path=lambda w: f"/faces/{w.face_o.face_id}/reprocess",
    ),
    row(
        "POST",
        "/groups/{group_id}/reprocess",
        UPLOAD(202),
        path=_g("/reprocess"),
        body=_json(lambda w: {"force_all": True}),
    ),
    row("POST", "/faces/search", UPLOAD(), body=_json(lambda w: {"group_ids": [w.gid]})),
    row("POST", "/faces/filter", UPLOAD(), body=_json(lambda w: {"group_ids": [w.gid]})),
    row("GET", "/faces/duplicates", UPLOAD(), body=_params(lambda w: {"group_id": w.gid})),
    row("GET", "/faces/outliers", UPLOAD(), body=_params(lambda w: {"group_id": w.gid})),
    # --- sections ------------------------------------------------------------------------------
    row("GET", "/groups/{group_id}/sections", READ(), path=_g("/sections")),
    row(
        "POST",
        "/groups/{group_id}/sections",
        CURATE(201),
        path=_g("/sections"),
        body=_json(lambda w: {"name": f"Party {uuid.uuid4()}", "description": "After dinner"}),
    ),
    row(
        "PATCH",
        "/groups/{group_id}/sections/{section_id}",
        CURATE(),
        path=lambda w: f"/groups/{w.gid}/sections/{w.section.section_id}",
        body=_json(lambda w: {"description": "Vows"}),
    ),
    row(
        "DELETE",
        "/groups/{group_id}/sections/{section_id}",
        CURATE(),
        path=lambda w: f"/groups/{w.gid}/sections/{w.section.section_id}",
        fresh=True,
    ),
    row(
        "POST",
        "/groups/{group_id}/sections/{section_id}/images",
        CURATE(),
        path=lambda w: f"/groups/{w.gid}/sections/{w.section.section_id}/images",
        body=_json(lambda w: {"image_ids": [w.image_m.image_id]}),
    ),
    row(
        "DELETE",
        "/groups/{group_id}/sections/{section_id}/images",
        CURATE(),
        path=lambda w: f"/groups/{w.gid}/sections/{w.section.section_id}/images",
        body=_json(lambda w: {"image_ids": [w.image_m.image_id]}),
    ),
    row("GET", "/groups/{group_id}/images", UPLOAD(), path=_g("/images")),
    # --- statistics ----------------------------------------------------------------------------
    row("GET", "/groups/{group_id}/stats", UPLOAD(), path=_g("/stats")),
    row("GET", "/stats", SIGNED_IN()),  # over the caller's groups (none: zeros)
    row("GET", "/groups/{group_id}/consistency", UPLOAD(), path=_g("/consistency")),
    row("POST", "/groups/{group_id}/consistency", CURATE(), path=_g("/consistency")),
    # --- platform administration -------------------------------------------------------------
    row(
        "POST",
        "/admin/users",
        PLATFORM_ADMIN(201),
        body=_json(lambda w: {"phone_number": new_phone(), "name": "Pat"}),
    ),
    row("GET", "/admin/users", PLATFORM_ADMIN()),
    row(
        "GET",
        "/admin/users/{user_id}",
        PLATFORM_ADMIN(),
        path=lambda w: f"/admin/users/{w.spare.user_id}",
    ),
    row(
        "PUT",
        "/admin/users/{user_id}/role",
        PLATFORM_ADMIN(),
        path=lambda w: f"/admin/users/{w.spare.user_id}/role",
        body=_json(lambda w: {"role": "photographer"}),
    ),
    row(
        "DELETE",
        "/admin/users/{user_id}",
        PLATFORM_ADMIN(),
        path=lambda w: f"/admin/users/{w.spare.user_id}",
    ),
    row("GET", "/admin/settings/quality", PLATFORM_ADMIN()),
]


def _former_path(entry: Row) -> Row:
    """The row of a person-link route at its former path (``assignments``), the deprecated
    alias served by the same handler: the same request, the same statuses."""

    def request(w: World) -> tuple[str, Request]:
        path, sent = entry.request(w)
        return path.replace("/person-links", "/assignments"), sent

    return replace(
        entry, template=entry.template.replace("/person-links", "/assignments"), request=request
    )


TABLE += [_former_path(r) for r in TABLE if "/person-links" in r.template]

CASES = [(r, role) for r in TABLE for role in ROLES]


@pytest.fixture(scope="module")
def api(stores: fakes.World) -> Api:
    """One app for the module; every route (or case, ``fresh``) makes its own world."""
    return build_api(stores)


@pytest.fixture(scope="module")
def worlds() -> dict[str, World]:
    """The world of each route, shared by its roles (built on first use)."""
    return {}


def test_every_route_has_a_row(api: Api) -> None:
    # Given the OpenAPI document, Then every operation is in the table (and nothing else)
    doc = OpenApiDocument(api.client.get("/openapi.json").json())
    operations = {(method, template) for method, template, _ in doc.operations()}
    assert {(r.method, r.template) for r in TABLE} == operations
    assert len({r.id for r in TABLE}) == len(TABLE)


@pytest.mark.parametrize(("entry", "role"), CASES, ids=[f"{r.id} as {role}" for r, role in CASES])
def test_permission_contract(api: Api, worlds: dict[str, World], entry: Row, role: str) -> None:
    # Given the route's world, When the role calls the route with a well-formed request
    world = make_world(api) if entry.fresh else worlds.get(entry.id) or make_world(api)
    worlds.setdefault(entry.id, world)
    path, request = entry.request(world)
    headers = {} if role == "anonymous" else api.auth(world.tokens[role])
    response = api.client.request(entry.method, path, headers=headers, **request)
    # Then the status is the table's, and a refusal by the policy has its one code
    assert response.status_code == entry.expected[role], response.text
    if response.status_code == 403:
        body = response.json()
        assert body["code"] == entry.codes.get(role, "access_denied"), body
        if body["code"] == "access_denied":
            assert body["need"] in ("read", "upload", "curate", "administer", "platform_admin")
