"""Faces over DynamoDB (GSIs by image, person and group)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from pynamodb.exceptions import PynamoDBException
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from findme.adapters.dynamodb.base import DynamoBase, _from_model, _to_model
from findme.adapters.dynamodb.models import _storable
from findme.domain.records import Face
from findme.errors import ConflictError, DependencyError, NotFoundError


class DynamoFaces(DynamoBase):
    """:class:`findme.ports.FaceRepository`."""

    def put_faces(self, faces: Sequence[Face]) -> None:
        """Batch upsert (BatchWriteItem, 25 per request, unprocessed items retried)."""

        def run() -> None:
            with self.faces.batch_write() as batch:
                for face in faces:
                    batch.save(self._face_model(face))

        self._call(run, "put faces")

    def _face_model(self, face: Face) -> Model:
        return _to_model(self.faces, face, person_id=face.person_id or None)

    def get_face(self, face_id: str) -> Face:
        return _from_model(Face, self._get(self.faces, "face", face_id))

    def get_faces(self, face_ids: Iterable[str]) -> list[Face]:
        """Faces by id in the order given; unknown ids are skipped (BatchGetItem, 100 each)."""
        return self._batch_get(self.faces, "face_id", Face, face_ids, "get faces")

    def list_faces_of_image(self, image_id: str) -> list[Face]:
        if not _storable(image_id):
            return []
        index = self.faces.image_index
        items = self._call(lambda: list(index.query(image_id)), "list faces of image")
        return [_from_model(Face, item) for item in items]

    def list_faces_of_person(self, person_id: str) -> list[Face]:
        if not _storable(person_id):
            return []
        index = self.faces.person_index
        items = self._call(lambda: list(index.query(person_id)), "list faces of person")
        return [_from_model(Face, item) for item in items]

    def list_faces_of_group(self, group_id: str) -> Iterator[Face]:
        """Every face of a group, streamed page by page (GSI ``group_id-index``)."""
        if not _storable(group_id):
            return
        index = self.faces.group_index
        pages = self._call(lambda: index.query(group_id), "list faces of group")
        try:
            for item in pages:
                yield _from_model(Face, item)
        except PynamoDBException as exc:
            raise DependencyError("DynamoDB failed: list faces of group") from exc

    def update_face_person(self, face_id: str, person_id: str | None, *, manual: bool) -> None:
        """Set (or clear, with ``None``) a face's person. Raises NotFoundError."""
        model = self.faces
        person_action: Action = (
            model.person_id.set(person_id) if person_id else model.person_id.remove()
        )
        item = model(face_id=face_id)
        try:
            self._call(
                lambda: item.update(
                    [person_action, model.is_manual_placement.set(manual)],
                    condition=model.face_id.exists(),
                ),
                "update face person",
            )
        except ConflictError as exc:
            raise NotFoundError("face not found", id=face_id) from exc

    def delete_faces(self, face_ids: Sequence[str]) -> None:
        self._batch_delete(self.faces, (self.faces(face_id=i) for i in dict.fromkeys(face_ids)))
