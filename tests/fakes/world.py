"""The real adapters on in-process fakes, and the helpers that seed them.

DynamoDB and S3 are moto (``mock_aws``), Qdrant is its local ``:memory:`` mode; the tables
and the bucket come from :mod:`findme.local.provision`. :func:`moto_world` opens one such
world (a fixture of any scope wraps it); :class:`World` writes consistent records to all
three stores: users, groups, photos, faces (synthetic unit embeddings) and persons.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from findme.adapters.dynamodb import DynamoMetadataStore
from findme.adapters.qdrant import QdrantVectorIndex
from findme.adapters.s3 import S3ObjectStore
from findme.config import Settings
from findme.domain.faces import face_id_for
from findme.domain.records import (
    Face,
    Group,
    GroupRole,
    Image,
    ImageStatus,
    Membership,
    Person,
    Role,
    User,
)
from findme.local.provision import create_bucket, create_tables
from findme.ports import FaceVector
from findme.services.auth import Principal
from findme.services.policy import Policy
from moto import mock_aws
from numpy.typing import NDArray

from fakes.faces import Embeddings, fake_face, jpeg


@contextmanager
def moto_world(settings: Settings, *, seed: int = 7, bucket: bool = True) -> Iterator[World]:
    """A :class:`World` on a ``mock_aws`` of its own: the tables, the bucket (unless
    ``bucket`` is false) and an empty Qdrant ``:memory:`` collection, for ``settings``.

    moto's state lives until the block ends; ``seed`` seeds the world's embeddings.
    """
    with mock_aws():
        create_tables(settings)
        if bucket:
            create_bucket(settings, digest_queue_arn=None)
        vectors = QdrantVectorIndex(settings)
        vectors.ensure_collection()
        try:
            yield World(
                settings=settings,
                metadata=DynamoMetadataStore(settings),
                objects=S3ObjectStore(settings),
                vectors=vectors,
                rng=np.random.default_rng(seed),
            )
        finally:
            vectors.close()


@dataclass(kw_only=True)
class World(Embeddings):
    """The stores plus helpers that write consistent records to all three."""

    settings: Settings
    metadata: DynamoMetadataStore
    objects: S3ObjectStore
    vectors: QdrantVectorIndex

    def user(self, role: Role = Role.MEMBER) -> User:
        user = User(
            user_id=str(uuid.uuid4()),
            phone_number=f"+1555{self.rng.integers(10**6, 10**7)}",
            name="Test User",
            role=role,
        )
        self.metadata.put_user(user)
        return user

    def group(
        self, owner: User, *, photographer: User | None = None, member: User | None = None
    ) -> Group:
        group = Group(group_id=str(uuid.uuid4()), name="Event", owner_id=owner.user_id)
        self.metadata.put_group(group)
        self.metadata.put_membership(Membership(group.group_id, owner.user_id, GroupRole.OWNER))
        if photographer:
            self.metadata.put_membership(
                Membership(group.group_id, photographer.user_id, GroupRole.PHOTOGRAPHER)
            )
        if member:
            self.metadata.put_membership(
                Membership(group.group_id, member.user_id, GroupRole.MEMBER)
            )
        return group

    def scope(self, user: User) -> Policy:
        """The user's rights (the one access policy), as a route would build them."""
        return Policy(self.metadata, Principal.from_user(user))

    def photo(
        self,
        group: Group,
        embeddings: Sequence[NDArray[np.float32]],
        *,
        quality: Sequence[tuple[float, float, float]] | None = None,
        thumbnails: bool = True,
    ) -> list[Face]:
        """One processed photo with a face per embedding (boxes side by side) -> its faces."""
        image_id = str(uuid.uuid4())
        key = f"originals/{group.group_id}/{image_id}.jpg"
        self.metadata.put_image(
            Image(
                image_id=image_id,
                group_id=group.group_id,
                s3_key=key,
                status=ImageStatus.PROCESSED,
                face_count=len(embeddings),
            )
        )
        faces: list[Face] = []
        for index, _vector in enumerate(embeddings):
            blur, bright, conf = quality[index] if quality else (0.9, 0.6, 0.95)
            face_id = str(uuid.uuid5(uuid.UUID(image_id), str(index)))
            thumb = f"faces/{group.group_id}/{face_id}.jpg" if thumbnails else None
            if thumb:
                self.objects.put(thumb, b"\xff\xd8jpeg" + face_id.encode(), "image/jpeg")
            overall = round(0.4 * blur + 0.4 * bright + 0.2 * conf, 4)
            faces.append(
                fake_face(
                    face_id,
                    image_id,
                    group.group_id,
                    index,
                    bbox={"x": 100 * index, "y": 10, "w": 80, "h": 80},
                    confidence=conf,
                    blur_score=blur,
                    brightness_score=bright,
                    overall_quality=overall,
                    thumbnail_key=thumb,
                )
            )
        self.metadata.put_faces(faces)
        self.vectors.upsert(
            [
                FaceVector(f.face_id, group.group_id, image_id, v)
                for f, v in zip(faces, embeddings, strict=True)
            ]
        )
        return faces

    def image(
        self,
        group_id: str,
        embeddings: list[NDArray[np.float32]],
        person_ids: list[str | None] | None = None,
    ) -> Image:
        """A processed photo (its original's bytes too) with one face per embedding, each in
        the person ``person_ids`` names -> its image record."""
        image_id = str(uuid.uuid4())
        key = f"originals/{group_id}/{image_id}.jpg"
        self.objects.put(key, jpeg(seed=len(embeddings)), "image/jpeg")
        image = Image(
            image_id=image_id,
            group_id=group_id,
            s3_key=key,
            status=ImageStatus.PROCESSED,
            face_count=len(embeddings),
            file_name=f"{image_id[:8]}.jpg",
        )
        self.metadata.put_image(image)
        persons = person_ids or [None] * len(embeddings)
        faces = [
            fake_face(
                str(uuid.uuid5(uuid.UUID(image_id), str(i))),
                image_id,
                group_id,
                i,
                person_id=persons[i],
            )
            for i in range(len(embeddings))
        ]
        self.metadata.put_faces(faces)
        self.vectors.upsert(
            [
                FaceVector(f.face_id, group_id, image_id, v, person_id=f.person_id)
                for f, v in zip(faces, embeddings, strict=True)
            ]
        )
        return image

    def person(
        self, group: Group | str, faces: Sequence[Face] = (), name: str | None = None
    ) -> Person:
        """A person holding ``faces`` (as clustering would leave it); none: an empty person."""
        person = Person(
            person_id=str(uuid.uuid4()),
            group_id=group if isinstance(group, str) else group.group_id,
            name=name,
            face_count=len(faces),
            image_count=len({f.image_id for f in faces}),
            cover_face_id=faces[0].face_id if faces else None,
        )
        self.metadata.put_person(person)
        if not faces:
            return person
        self.vectors.set_person([f.face_id for f in faces], person.person_id)
        for face in faces:
            self.metadata.update_face_person(face.face_id, person.person_id, manual=False)
            face.person_id = person.person_id
        return person

    def add_faces(
        self,
        group_id: str,
        embeddings: NDArray[np.floating],
        image_ids: list[str],
        *,
        qualities: list[float] | None = None,
    ) -> list[Face]:
        """Store face items and vectors (face ``k`` of a photo gets ``face_id_for(photo, k)``)."""
        per_photo: dict[str, int] = {}
        faces: list[Face] = []
        vecs: list[FaceVector] = []
        for i, (vector, image_id) in enumerate(zip(embeddings, image_ids, strict=True)):
            index = per_photo.get(image_id, 0)
            per_photo[image_id] = index + 1
            face = fake_face(
                face_id_for(image_id, index),
                image_id,
                group_id,
                index,
                bbox={"x": 0, "y": 0, "w": 100, "h": 100},
                blur_score=0.8,
                brightness_score=0.7,
                overall_quality=qualities[i] if qualities else 0.8,
            )
            faces.append(face)
            vecs.append(
                FaceVector(
                    face_id=face.face_id,
                    group_id=group_id,
                    image_id=image_id,
                    vector=np.asarray(vector, dtype=np.float32),
                )
            )
        self.metadata.put_faces(faces)
        self.vectors.upsert(vecs)
        return faces
