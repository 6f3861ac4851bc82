"""In-memory stand-ins for the stores, where moto would be too slow."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence

from findme.domain.records import OtpChallenge, ReferenceFace, User
from findme.errors import ConflictError, NotFoundError
from findme.ports import FaceVector


class MemorySignUp:
    """In memory, the parts of MetadataStore, ObjectStore and VectorIndex that ``/auth/otp``
    and ``/register`` use: OTP challenges, users, reference faces, selfies, their vectors.

    For crowd-sized tests (hundreds of sign-ups in a few seconds, where moto costs ~2.5 ms a
    call) and the OTP service's tests; the contract suites check the real adapters' semantics
    mirrored here.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.otps: dict[str, OtpChallenge] = {}
        self.users: dict[str, User] = {}
        self.references: dict[str, list[ReferenceFace]] = {}
        self.objects: dict[str, bytes] = {}
        self.vectors: dict[str, FaceVector] = {}

    # MetadataStore
    def get_otp(self, phone_number: str) -> OtpChallenge | None:
        otp = self.otps.get(phone_number)
        return dataclasses.replace(otp) if otp is not None else None

    def put_otp(self, otp: OtpChallenge) -> None:
        self.otps[otp.phone_number] = dataclasses.replace(otp)

    def take_otp_attempt(self, phone_number: str, code_hash: str, max_attempts: int) -> bool:
        with self.lock:  # the store's conditional update is atomic
            otp = self.otps.get(phone_number)
            if otp is None or otp.code_hash != code_hash or otp.attempts >= max_attempts:
                return False
            otp.attempts += 1
            return True

    def delete_otp(self, phone_number: str) -> None:
        self.otps.pop(phone_number, None)

    def find_user_by_phone(self, phone_number: str) -> User | None:
        return next((u for u in self.users.values() if u.phone_number == phone_number), None)

    def put_user(self, user: User) -> None:
        with self.lock:
            if self.find_user_by_phone(user.phone_number) is not None:
                raise ConflictError("phone taken", code="phone_registered")
            self.users[user.user_id] = user

    def get_user(self, user_id: str) -> User:
        if user_id not in self.users:
            raise NotFoundError(f"user {user_id}")
        return self.users[user_id]

    def delete_user(self, user_id: str) -> None:
        self.users.pop(user_id, None)

    def put_reference_face(self, ref: ReferenceFace) -> None:
        self.references.setdefault(ref.user_id, []).append(ref)

    def list_reference_faces(self, user_id: str) -> list[ReferenceFace]:
        return list(self.references.get(user_id, []))

    # ObjectStore
    def put(
        self, key: str, data: bytes, content_type: str, metadata: dict[str, str] | None = None
    ) -> None:
        self.objects[key] = data

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.objects.pop(key, None)

    # VectorIndex
    def upsert(self, vectors: Sequence[FaceVector]) -> None:
        self.vectors.update({v.face_id: v for v in vectors})

    def delete_faces(self, face_ids: Sequence[str]) -> None:
        for face_id in face_ids:
            self.vectors.pop(face_id, None)
