"""The face engine on the real faces-dev photos with the pinned models."""

from __future__ import annotations

import io
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from findme.adapters import onnx_engine
from findme.adapters.onnx_engine import OnnxFaceEngine
from findme.config import Settings
from findme.domain.faces import EMOTIONS, DetectedFace, ImageAnalysis
from PIL import Image
from sklearn.metrics import roc_auc_score, roc_curve

pytestmark = [pytest.mark.integration, pytest.mark.models]


def main_face(analysis: ImageAnalysis) -> DetectedFace:
    """The labelled person's face: the largest box of the photo."""
    return max(analysis.faces, key=lambda f: f.bbox.w * f.bbox.h)


def test_every_labelled_photo_yields_a_face(
    analyses: dict[str, ImageAnalysis], labels: dict[str, str]
) -> None:
    missing = [name for name in labels if not analyses[name].faces]
    assert missing == []


def test_group_photos_yield_expected_count_minus_one(
    analyses: dict[str, ImageAnalysis], group_photos: dict[str, int]
) -> None:
    for name, expected in group_photos.items():
        found = len(analyses[name].faces)
        print(f"{name}: {found} faces (expected {expected})")
        assert found >= expected - 1, name


def test_verification_roc_auc_and_tar_at_far_1e3(
    analyses: dict[str, ImageAnalysis], labels: dict[str, str]
) -> None:
    # Given one embedding per labelled photo
    names = sorted(labels)
    embeddings = np.stack([main_face(analyses[n]).embedding for n in names])  # type: ignore[misc]
    identities = np.array([labels[n] for n in names])
    # When every pair is scored by cosine similarity
    i, j = np.triu_indices(len(names), k=1)
    scores = np.einsum("nd,nd->n", embeddings[i], embeddings[j])
    same = identities[i] == identities[j]
    auc = roc_auc_score(same, scores)
    fpr, tpr, thresholds = roc_curve(same, scores)
    at = int(np.searchsorted(fpr, 1e-3, side="right") - 1)
    print(
        f"\nverification on {len(scores)} pairs ({same.sum()} genuine): ROC AUC {auc:.4f}, "
        f"TAR {tpr[at]:.4f} at FAR <= 1e-3 (measured FAR {fpr[at]:.4g}, "
        f"threshold {thresholds[at]:.3f})"
    )
    # Then the pinned SFace separates identities
    assert auc >= 0.99
    assert tpr[at] >= 0.95


def test_crops_embeddings_and_landmarks(
    analyses: dict[str, ImageAnalysis], labels: dict[str, str]
) -> None:
    for name in labels:
        analysis = analyses[name]
        main = main_face(analysis)
        for face in analysis.faces:
            assert face.aligned is not None
            assert face.aligned.shape == (112, 112, 3)
            assert face.embedding is not None
            assert face.embedding.shape == (128,)
            assert face.embedding.dtype == np.float32
            assert abs(float(np.linalg.norm(face.embedding)) - 1.0) < 1e-5
            box = face.bbox
            if face is not main and (
                box.x == 0
                or box.y == 0
                or box.x + box.w >= analysis.width
                or box.y + box.h >= analysis.height
            ):
                continue  # a face cut by the photo's edge: its box is clipped, not its landmarks
            # Exactly inside for the labelled face; a background face in profile may have
            # its nose tip a few pixels past the box (10 % slack)
            slack = 0.0 if face is main else 0.1 * max(box.w, box.h)
            xs, ys = face.landmarks[:, 0], face.landmarks[:, 1]
            assert np.all((xs >= box.x - slack) & (xs <= box.x + box.w + slack)), name
            assert np.all((ys >= box.y - slack) & (ys <= box.y + box.h + slack)), name
            assert face.crop_jpeg is not None
            crop = Image.open(io.BytesIO(face.crop_jpeg))
            assert crop.format == "JPEG"
            assert crop.size == (160, 160)


def test_gender_agrees_with_people_csv(
    analyses: dict[str, ImageAnalysis],
    labels: dict[str, str],
    people: dict[str, dict[str, str]],
) -> None:
    expected = {"F": "female", "M": "male"}
    agree = sum(
        main_face(analyses[name]).attributes.gender  # type: ignore[union-attr]
        == expected[people[identity]["presented_gender"]]
        for name, identity in labels.items()
    )
    print(f"\ngender agreement: {agree}/{len(labels)}")
    assert agree / len(labels) >= 0.95


def test_emotion_probabilities_and_adult_ages(
    analyses: dict[str, ImageAnalysis], labels: dict[str, str]
) -> None:
    for name in labels:
        attrs = main_face(analyses[name]).attributes
        assert attrs is not None
        assert attrs.unavailable == {}
        assert attrs.emotion is not None
        assert tuple(attrs.emotion) == EMOTIONS
        assert sum(attrs.emotion.values()) == pytest.approx(1.0, abs=1e-3)
        assert attrs.dominant_emotion == max(attrs.emotion, key=attrs.emotion.__getitem__)
        # The public figures of faces-dev were adults when photographed
        assert attrs.age is not None
        assert 18 <= attrs.age <= 80, (name, attrs.age)
        assert attrs.age_range is not None
        assert attrs.age_range[0] < attrs.age < attrs.age_range[1]


def test_blurred_copy_scores_lower_blur(face_engine: OnnxFaceEngine, faces_dev: Path) -> None:
    # Given a sharp photo and a Gaussian-blurred copy of it
    data = (faces_dev / "images" / "img13.jpg").read_bytes()
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    blurred = cv2.GaussianBlur(pixels, (0, 0), 6)
    ok, encoded = cv2.imencode(".jpg", blurred, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    # When both are analysed
    sharp_q = main_face(face_engine.analyze(data)).quality
    blurred_q = main_face(face_engine.analyze(encoded.tobytes())).quality
    # Then the copy's blur score is lower and it is flagged blurry
    assert sharp_q is not None
    assert blurred_q is not None
    assert blurred_q.blur_score < sharp_q.blur_score
    assert "Image is blurry" in blurred_q.issues


def test_missing_or_disabled_attribute_models_give_null_with_reason(
    model_dir: Path, faces_dev: Path, tmp_path: Path
) -> None:
    # Given a model dir with only the detector and embedder, and emotion switched off
    for name in (
        "face_detection_yunet_2023mar.dynamic.onnx",
        "face_recognition_sface_2021dec.ort.onnx",
    ):
        (tmp_path / name).symlink_to(model_dir / name)
    settings = Settings(model_dir=tmp_path, enable_emotion=False, ort_threads=1)
    engine = OnnxFaceEngine(settings)
    # When a photo is analysed with attributes
    face = main_face(
        engine.analyze((faces_dev / "images" / "img1.jpg").read_bytes(), attributes=True)
    )
    # Then age/gender/emotion are None, each with its reason; the embedding still works
    attrs = face.attributes
    assert attrs is not None
    assert attrs.age is None
    assert attrs.gender is None
    assert attrs.emotion is None
    assert set(attrs.unavailable) == {"age", "gender", "emotion"}
    assert "disabled" in attrs.unavailable["emotion"]
    assert "missing" in attrs.unavailable["age"]
    assert face.embedding is not None


def test_original_model_files_give_the_same_results(
    face_engine: OnnxFaceEngine, model_dir: Path, faces_dev: Path, tmp_path: Path
) -> None:
    # Given a model dir with only the shipped YuNet (fixed 640x640) and SFace (batch 1) files
    for name in ("face_detection_yunet_2023mar.onnx", "face_recognition_sface_2021dec.onnx"):
        (tmp_path / name).symlink_to(model_dir / name)
    original = OnnxFaceEngine(Settings(model_dir=tmp_path, ort_threads=1))
    data = (faces_dev / "images" / "couple.jpg").read_bytes()
    # When the same photo is analysed with the originals and with the derived copies
    shipped = original.analyze(data)
    derived = face_engine.analyze(data)
    # Then the boxes agree and the embeddings are the same vectors
    assert [f.bbox for f in shipped.faces] == [f.bbox for f in derived.faces]
    for a, b in zip(shipped.faces, derived.faces, strict=True):
        assert a.embedding is not None
        assert b.embedding is not None
        assert float(a.embedding @ b.embedding) > 0.999


def test_sessions_are_created_once_under_concurrent_first_use(
    model_dir: Path, faces_dev: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a fresh engine whose session creation is counted (and slowed, to widen the race)
    created: Counter[str] = Counter()
    real_create = onnx_engine.create_session

    def counting_create(path: Path, threads: int) -> object:
        created[path.name] += 1
        time.sleep(0.05)
        return real_create(path, threads)

    monkeypatch.setattr(onnx_engine, "create_session", counting_create)
    engine = OnnxFaceEngine(Settings(model_dir=model_dir, ort_threads=1))
    data = (faces_dev / "images" / "img13.jpg").read_bytes()
    # When four threads analyse the same photo at once
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: engine.analyze(data), range(4)))
    # Then each model was loaded exactly once and every thread got the same embedding
    assert created
    assert set(created.values()) == {1}
    first = results[0].faces[0].embedding
    assert first is not None
    for result in results[1:]:
        assert result.faces[0].embedding is not None
        np.testing.assert_allclose(result.faces[0].embedding, first, atol=1e-6)
