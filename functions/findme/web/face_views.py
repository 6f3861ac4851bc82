"""Face-engine results -> the seed API's response shapes (``/get-faces``, ``/get-features``,
``/get-embedding``; docs/compatibility.md), shared by the CLI and the API.

Pure conversion: no onnxruntime or OpenCV import, so the API Lambda can import it.

Shapes (one dict per face, faces in detection order, highest confidence first):

- faces: ``{"face_id", "face_b64", "facial_area": {"x","y","w","h"}, "confidence"}``
- features: ``{"face_id", "facial_area", "confidence", "features": {...}}`` where features is
  ``{"emotion": "happy" | None, "emotion_scores": {7 classes: probability} | None,
  "age": int | None, "age_range": [low, high] | None, "gender": "female"|"male"|None,
  "gender_confidence": float | None, "landmarks": {"left_eye": [x, y], "right_eye", "nose",
  "mouth_left", "mouth_right"}, "unavailable": {field: reason}}`` (``unavailable`` only when
  a model is missing or switched off; values are then ``None``, never guessed)
- embedding: ``{"face_id", "face_b64", "facial_area", "confidence", "features", "quality",
  "embedding": [128 floats]}``

Coordinates are original-image pixels; ``left_eye`` is the eye on the image's left.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from findme.domain.faces import DetectedFace, ImageAnalysis, face_id_for

__all__ = [
    "embedding_response",
    "face_entry",
    "faces_response",
    "features_entry",
    "features_response",
    "image_id_for_bytes",
    "quality_entry",
]


def image_id_for_bytes(data: bytes) -> str:
    """A stable image id for stateless calls: the first 32 hex digits of the bytes' sha256."""
    return hashlib.sha256(data).hexdigest()[:32]


def _base(face: DetectedFace, image_id: str) -> dict[str, Any]:
    return {
        "face_id": face_id_for(image_id, face.index),
        "facial_area": face.bbox.as_dict(),
        "confidence": round(float(face.confidence), 4),
    }


def _b64(face: DetectedFace) -> str | None:
    return base64.b64encode(face.crop_jpeg).decode("ascii") if face.crop_jpeg else None


def face_entry(face: DetectedFace, image_id: str) -> dict[str, Any]:
    """``/get-faces`` item: face_id, face_b64 (JPEG crop, or None), facial_area, confidence."""
    entry = _base(face, image_id)
    return {
        "face_id": entry["face_id"],
        "face_b64": _b64(face),
        "facial_area": entry["facial_area"],
        "confidence": entry["confidence"],
    }


def features_entry(face: DetectedFace) -> dict[str, Any]:
    """The ``features`` object of one face (see the module docstring)."""
    attrs = face.attributes
    features: dict[str, Any] = {
        "emotion": attrs.dominant_emotion if attrs else None,
        "emotion_scores": dict(attrs.emotion) if attrs and attrs.emotion else None,
        "age": attrs.age if attrs else None,
        "age_range": list(attrs.age_range) if attrs and attrs.age_range else None,
        "gender": attrs.gender if attrs else None,
        "gender_confidence": attrs.gender_confidence if attrs else None,
        "landmarks": face.named_landmarks(),
    }
    if attrs is None:
        features["unavailable"] = {
            "emotion": "not requested",
            "age": "not requested",
            "gender": "not requested",
        }
    elif attrs.unavailable:
        features["unavailable"] = dict(attrs.unavailable)
    return features


def quality_entry(face: DetectedFace) -> dict[str, Any] | None:
    """The peer quality fields of one face, or None when quality was not computed."""
    q = face.quality
    if q is None:
        return None
    return {
        "blur_score": q.blur_score,
        "brightness_score": q.brightness_score,
        "confidence": q.confidence,
        "overall_quality": q.overall_quality,
        "quality_grade": q.quality_grade,
        "issues": list(q.issues),
        "face_size_px": q.face_size_px,
        "yaw_deg": q.yaw_deg,
        "roll_deg": q.roll_deg,
    }


def faces_response(analysis: ImageAnalysis, image_id: str) -> dict[str, Any]:
    """``/get-faces``: ``{"faces": [face_entry, ...]}``."""
    return {"faces": [face_entry(f, image_id) for f in analysis.faces]}


def features_response(analysis: ImageAnalysis, image_id: str) -> dict[str, Any]:
    """``/get-features``: ``{"faces": [{face_id, facial_area, confidence, features}]}``."""
    return {
        "faces": [{**_base(f, image_id), "features": features_entry(f)} for f in analysis.faces]
    }


def embedding_response(analysis: ImageAnalysis, image_id: str) -> dict[str, Any]:
    """``/get-embedding``: faces with face_b64, facial_area, features, quality, embedding.

    ``embedding`` is the 128-d L2-normalised SFace vector as a list of floats (None when not
    computed).
    """
    faces = []
    for f in analysis.faces:
        entry = face_entry(f, image_id)
        entry["features"] = features_entry(f)
        entry["quality"] = quality_entry(f)
        entry["embedding"] = (
            [round(float(v), 6) for v in f.embedding] if f.embedding is not None else None
        )
        faces.append(entry)
    return {"faces": faces}
