"""Registration (OTP + one acceptable selfie face), sign-in, more selfies, account deletion."""

from __future__ import annotations

import pytest
from fakes import Api, detected, jpeg, new_phone


def _otp(api: Api, phone: str) -> str:
    assert api.client.post("/auth/otp", json={"phone_number": phone}).status_code == 200
    return api.sms.last_code(phone)


def _register(api: Api, phone: str, otp: str, selfie: bytes | None, name: str = "Bo"):  # type: ignore[no-untyped-def]
    files = {"selfie": ("me.jpg", selfie, "image/jpeg")} if selfie is not None else None
    return api.client.post(
        "/register", data={"name": name, "phone_number": phone, "otp": otp}, files=files
    )


def test_register_returns_201_with_user_and_token(api: Api) -> None:
    # Given a code sent to a new phone and a selfie with one good face
    phone = new_phone()
    code = _otp(api, phone)
    vector = api.stores.identity()
    selfie = api.engine.register(jpeg(seed=1), [detected(vector)])
    # When registering
    response = _register(api, phone, code, selfie, name="  Ada   Lovelace ")
    # Then 201 with the seed's fields plus a working bearer token
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "Ada Lovelace"
    assert body["message"]
    assert body["token_type"] == "bearer"
    me = api.client.get("/users/me", headers=api.auth(body["access_token"])).json()
    assert me == {
        "user_id": body["user_id"],
        "name": "Ada Lovelace",
        "phone_number": phone,
        "role": "member",
        "reference_faces": 1,
    }
    # And the selfie's embedding is stored as a reference vector of this user
    refs = api.stores.metadata.list_reference_faces(body["user_id"])
    stored = api.stores.vectors.get([refs[0].face_id])
    assert stored[0].kind == "reference"
    assert stored[0].user_id == body["user_id"]
    assert api.stores.objects.head(refs[0].s3_key) is not None


@pytest.mark.parametrize(
    ("faces", "reason"),
    [
        ([], "no_face"),
        ([detected(None, index=0), detected(None, index=1)], "several_faces"),
        ([detected(None, size=40)], "too_small"),
        ([detected(None, blur=0.05)], "too_blurry"),
        ([detected(None, confidence=0.5)], "low_confidence"),
    ],
    ids=["none", "several", "small", "blurry", "unsure"],
)
def test_unacceptable_selfie_is_422_naming_the_reason(api: Api, faces, reason: str) -> None:  # type: ignore[no-untyped-def]
    # Given a selfie whose faces fail one check (embeddings filled in)
    for face in faces:
        face.embedding = api.stores.identity()
    phone = new_phone()
    code = _otp(api, phone)
    selfie = api.engine.register(jpeg(seed=7 + len(faces)), faces)
    # When registering / Then 422 with the reason, and no user is created
    response = _register(api, phone, code, selfie)
    assert response.status_code == 422
    assert response.json()["code"] == "face_requirement"
    assert response.json()["reason"] == reason
    assert api.stores.metadata.find_user_by_phone(phone) is None
    # And the code was not consumed: a good selfie still registers with it
    good = api.engine.register(jpeg(seed=99), [detected(api.stores.identity())])
    assert _register(api, phone, code, good).status_code == 201


def test_background_faces_do_not_count(api: Api) -> None:
    # Given a selfie with the user's face and a tiny passer-by far behind
    phone = new_phone()
    code = _otp(api, phone)
    faces = [detected(api.stores.identity()), detected(api.stores.identity(), size=20, index=1)]
    selfie = api.engine.register(jpeg(seed=31), faces)
    assert _register(api, phone, code, selfie).status_code == 201


def test_register_refusals(api: Api) -> None:
    phone = new_phone()
    code = _otp(api, phone)
    selfie = api.engine.register(jpeg(seed=3), [detected(api.stores.identity())])
    # No selfie -> 400; not an image -> 415; wrong code -> 401
    assert _register(api, phone, code, None).status_code == 400
    assert _register(api, phone, code, b"%PDF-1.4").status_code == 415
    wrong = "000000" if code != "000000" else "111111"
    response = _register(api, phone, wrong, selfie)
    assert response.status_code == 401
    assert response.json()["code"] == "otp_invalid"
    # The right code works once; the same phone again is 409
    assert _register(api, phone, code, selfie).status_code == 201
    again = _register(api, phone, _otp(api, phone), selfie)
    assert again.status_code == 409
    assert again.json()["code"] == "phone_registered"


def test_returning_user_signs_in_with_otp(api: Api) -> None:
    user_id, _, _ = api.register()
    phone = api.stores.metadata.get_user(user_id).phone_number
    code = _otp(api, phone)
    response = api.client.post("/auth/token", json={"phone_number": phone, "otp": code})
    assert response.status_code == 200
    assert response.json()["user_id"] == user_id
    # A phone with no user is 401 unknown_user
    stranger = new_phone()
    stranger_code = _otp(api, stranger)
    response = api.client.post("/auth/token", json={"phone_number": stranger, "otp": stranger_code})
    assert response.status_code == 401
    assert response.json()["code"] == "unknown_user"
    # ... and the code is kept: the app registers with it and a selfie, without a second SMS
    selfie = api.engine.register(jpeg(seed=41), [detected(api.stores.identity())])
    assert _register(api, stranger, stranger_code, selfie).status_code == 201
    # A returning user's code is used up by signing in
    response = api.client.post("/auth/token", json={"phone_number": phone, "otp": code})
    assert response.status_code == 401


def test_admin_phone_gets_admin_role(api: Api) -> None:
    _user_id, token, _ = api.register(phone="+14150000001")
    assert api.client.get("/users/me", headers=api.auth(token)).json()["role"] == "admin"


def test_more_selfies_and_account_deletion(api: Api) -> None:
    # Given a registered member of a group with a second selfie
    user_id, token, vector = api.register()
    owner_id, owner_token, _ = api.register()
    group = api.group(owner_token)
    api.join(token, group)
    second = api.engine.register(jpeg(seed=555), [detected(api.stores.near(vector))])
    response = api.client.post(
        "/users/me/selfies",
        files={"selfie": ("2.jpg", second, "image/jpeg")},
        headers=api.auth(token),
    )
    assert response.status_code == 201
    assert response.json()["reference_faces"] == 2
    refs = api.stores.metadata.list_reference_faces(user_id)
    # When the user deletes the account
    assert api.client.delete("/users/me", headers=api.auth(token)).status_code == 200
    # Then user, selfies, vectors and memberships are gone, and the token no longer works
    assert (
        api.stores.metadata.find_user_by_phone(api.stores.metadata.get_user(owner_id).phone_number)
        is not None
    )
    assert api.stores.metadata.list_reference_faces(user_id) == []
    assert api.stores.vectors.get([r.face_id for r in refs]) == []
    assert all(api.stores.objects.head(r.s3_key) is None for r in refs)
    assert api.stores.metadata.get_membership(group["group_id"], user_id) is None
    assert api.client.get("/users/me", headers=api.auth(token)).status_code == 401


def test_wrong_code_is_401_whatever_the_phone_and_selfie(api: Api) -> None:
    """Given a registered phone and a new one, when /register gets a wrong code (with a good
    selfie, or with a two-face selfie), then both answer 401 otp_invalid: the answer tells
    nothing about which phones are registered, and the code is checked before the image."""
    registered = new_phone()
    assert _register(api, registered, _otp(api, registered), _good(api, 41)).status_code == 201
    fresh = new_phone()
    code = _otp(api, fresh)
    wrong = "000000" if code != "000000" else "111111"
    _otp(api, registered)
    for phone in (registered, fresh):
        response = _register(api, phone, wrong, _good(api, 42))
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "otp_invalid"
    two = [detected(api.stores.identity(), index=0), detected(api.stores.identity(), index=1)]
    response = _register(api, fresh, wrong, api.engine.register(jpeg(seed=43), two))
    assert response.status_code == 401
    assert response.json()["code"] == "otp_invalid"
    # And the right code still registers the new phone
    assert _register(api, fresh, code, _good(api, 44)).status_code == 201


def _good(api: Api, seed: int) -> bytes:
    selfie: bytes = api.engine.register(jpeg(seed=seed), [detected(api.stores.identity())])
    return selfie
