"""The seed's response shapes built from an ImageAnalysis (no models needed)."""

from __future__ import annotations

import base64
import subprocess
import sys

import numpy as np
from findme.domain.faces import (
    EMOTIONS,
    Attributes,
    BoundingBox,
    DetectedFace,
    ImageAnalysis,
    Quality,
    face_id_for,
)
from findme.web import face_views as views


def _analysis(*, attributes: Attributes | None) -> ImageAnalysis:
    landmarks = np.array([[40, 50], [80, 50], [60, 70], [45, 90], [75, 90]], np.float32)
    embedding = np.zeros(128, np.float32)
    embedding[3] = 1.0
    face = DetectedFace(
        index=0,
        bbox=BoundingBox(10, 20, 100, 120),
        landmarks=landmarks,
        confidence=0.93456,
        embedding=embedding,
        quality=Quality(1.0, 0.6, 0.93, 0.826, "B", ()),
        attributes=attributes,
        crop_jpeg=b"\xff\xd8jpeg\xff\xd9",
    )
    return ImageAnalysis(width=640, height=480, faces=[face])


def test_get_faces_shape() -> None:
    # Given an analysed photo / When rendered as /get-faces
    response = views.faces_response(_analysis(attributes=None), "img-1")
    # Then each face has exactly the seed's fields, with a deterministic id
    (face,) = response["faces"]
    assert set(face) == {"face_id", "face_b64", "facial_area", "confidence"}
    assert face["face_id"] == face_id_for("img-1", 0)
    assert face["facial_area"] == {"x": 10, "y": 20, "w": 100, "h": 120}
    assert face["confidence"] == 0.9346
    assert base64.b64decode(face["face_b64"]) == b"\xff\xd8jpeg\xff\xd9"


def test_get_features_shape_with_attributes() -> None:
    emotion = dict.fromkeys(EMOTIONS, 0.0) | {"happy": 1.0}
    attrs = Attributes(
        age=34,
        age_range=(26, 42),
        gender="female",
        gender_confidence=0.99,
        emotion=emotion,
        dominant_emotion="happy",
    )
    (face,) = views.features_response(_analysis(attributes=attrs), "img-1")["faces"]
    assert set(face) == {"face_id", "facial_area", "confidence", "features"}
    features = face["features"]
    assert features["emotion"] == "happy"
    assert features["emotion_scores"] == emotion
    assert features["age"] == 34
    assert features["age_range"] == [26, 42]
    assert features["gender"] == "female"
    assert set(features["landmarks"]) == {
        "left_eye",
        "right_eye",
        "nose",
        "mouth_left",
        "mouth_right",
    }
    assert features["landmarks"]["nose"] == [60.0, 70.0]
    assert "unavailable" not in features


def test_missing_attribute_is_null_with_reason() -> None:
    attrs = Attributes(
        age=30, age_range=(22, 38), gender="male", unavailable={"emotion": "disabled by setting"}
    )
    (face,) = views.features_response(_analysis(attributes=attrs), "i")["faces"]
    assert face["features"]["emotion"] is None
    assert face["features"]["unavailable"] == {"emotion": "disabled by setting"}


def test_get_embedding_shape() -> None:
    (face,) = views.embedding_response(_analysis(attributes=Attributes()), "i")["faces"]
    assert {"face_id", "face_b64", "facial_area", "confidence", "features", "embedding"} <= set(
        face
    )
    assert len(face["embedding"]) == 128
    assert face["embedding"][3] == 1.0
    assert face["quality"]["quality_grade"] == "B"


def test_views_import_without_cv2_or_onnxruntime() -> None:
    # Given a fresh interpreter / When the views module is imported
    code = (
        "import sys, findme.web.face_views; "
        "bad = {'cv2', 'onnxruntime'} & set(sys.modules); "
        "sys.exit(1 if bad else 0)"
    )
    # Then neither heavy runtime was imported (the API Lambda can use it)
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
