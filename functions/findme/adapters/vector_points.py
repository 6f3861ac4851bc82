"""The point layout both Qdrant adapters store (qdrant-client and Qdrant Edge): one place.

Point id = ``face_id`` (UUID). Vector: ``(128,) float32`` embedding, cosine distance.
Payload: ``face_id``, ``group_id`` (the tenant key), ``image_id``, ``kind`` (``face`` |
``reference``), and ``person_id`` / ``user_id`` when set. No SDK is imported here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from findme.domain.faces import EMBEDDING_DIM
from findme.errors import InvalidInputError
from findme.ports import FaceVector

#: Keyword payload fields with an index; ``group_id`` is the tenant key.
INDEXED_FIELDS: tuple[str, ...] = ("group_id", "image_id", "person_id", "kind", "user_id")


def point_payload(v: FaceVector) -> dict[str, Any]:
    """The payload of ``v``'s point (``person_id`` / ``user_id`` only when set)."""
    payload: dict[str, Any] = {
        "face_id": v.face_id,
        "group_id": v.group_id,
        "image_id": v.image_id,
        "kind": v.kind,
    }
    if v.person_id:
        payload["person_id"] = v.person_id
    if v.user_id:
        payload["user_id"] = v.user_id
    return payload


def point_vector(vector: NDArray[np.float32]) -> list[float]:
    """A ``(128,)`` finite embedding as the list of floats the SDKs take.

    Raises:
        InvalidInputError: another shape, or a NaN/inf component.
    """
    arr = np.asarray(vector, dtype=np.float32).reshape(-1)
    if arr.shape != (EMBEDDING_DIM,) or not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"embedding must be ({EMBEDDING_DIM},) finite float32")
    return [float(x) for x in arr]


def face_vector(point_id: object, payload: dict[str, Any] | None, vector: Any) -> FaceVector:
    """A stored point back as a :class:`FaceVector` (``vector`` empty when not fetched).

    Args:
        point_id: the point id (``str`` or ``uuid.UUID``).
        payload: the point's payload (the layout of :func:`point_payload`).
        vector: a list of floats, a ``{name: list}`` of named vectors (the unnamed one is
            taken), or ``None``.
    """
    payload = payload or {}
    if isinstance(vector, dict):
        vector = next(iter(vector.values()), None)
    arr = np.asarray(vector, dtype=np.float32) if vector is not None else np.zeros(0, np.float32)
    return FaceVector(
        face_id=str(point_id),
        group_id=payload["group_id"],
        image_id=payload["image_id"],
        vector=arr,
        person_id=payload.get("person_id"),
        kind=payload.get("kind", "face"),
        user_id=payload.get("user_id"),
    )
