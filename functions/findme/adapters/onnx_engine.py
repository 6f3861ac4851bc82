"""The face engine on onnxruntime and OpenCV: YuNet detection, SFace embedding, attributes.

Pipeline per photo (see ARCHITECTURE.md §4): decode (EXIF-oriented, reduced for large JPEGs)
-> YuNet at long side ≤ ``detector_input_size`` (score threshold, NMS, minimum face size;
boxes and landmarks mapped back to original pixels) -> 5-point similarity alignment to the
ArcFace 112x112 template -> SFace, one batched run per photo, L2-normalised -> quality (peer
formula, size, pose) -> optional age/gender (Cydral, dlib-style chips) and emotion (OpenCV zoo
MobileFaceNet) -> optional JPEG crops.

Sessions are created lazily, once, behind a lock; ``InferenceSession.run`` is thread-safe.

Why one module of about 530 lines: one adapter per external runtime: the models' pre- and
post-processing (YuNet decoding, alignment, SFace, the attribute heads) lives beside the
onnxruntime sessions it feeds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from findme import model_manifest
from findme.adapters.image_decode import decode_image, encode_renditions
from findme.adapters.ort_sessions import create_session
from findme.config import Settings
from findme.domain import quality as quality_mod
from findme.domain.alignment import (
    ARCFACE_TEMPLATE_112,
    dlib_chip_template,
    similarity_transform,
    transform_scale,
)
from findme.domain.faces import (
    EMOTIONS,
    Attributes,
    BoundingBox,
    DecodedImage,
    DetectedFace,
    ImageAnalysis,
)
from findme.domain.similarity import l2_normalize
from findme.errors import ModelError, ModelUnavailableError

#: YuNet feature-map strides (OpenCV ``FaceDetectorYN``, 2023mar model).
YUNET_STRIDES: tuple[int, ...] = (8, 16, 32)
#: Candidates kept before NMS, and faces kept after it.
YUNET_TOP_K = 5000
MAX_FACES = 750
#: Cydral dlib models: mean RGB subtracted, then / 256 (dlib ``input_rgb_image``).
DLIB_MEAN_RGB: NDArray[np.float32] = np.array([122.782, 117.001, 104.298], dtype=np.float32)
DLIB_CHIP_PADDING = 0.2
AGE_CHIP_PX = 64
GENDER_CHIP_PX = 32
#: Age bins of the 81 outputs: 0.25 years, then 1..80 years.
AGE_BINS: NDArray[np.float32] = np.array([0.25, *range(1, 81)], dtype=np.float32)
#: Half-width of the reported age range (the model's MAE is 5.6-8 years).
AGE_RANGE_YEARS = 8
GENDER_LABELS: tuple[str, str] = ("female", "male")
ALIGNED_PX = 112
CROP_JPEG_QUALITY = 90

_OPTIONAL = ("age", "gender", "emotion")


def _softmax(x: NDArray[np.float32]) -> NDArray[np.float32]:
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    probs: NDArray[np.float32] = (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
    return probs


def _as_probabilities(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Model outputs as probabilities: kept if they already are, else softmaxed."""
    sums = x.sum(axis=-1)
    if np.all(x >= 0) and np.allclose(sums, 1.0, atol=1e-3):
        probs: NDArray[np.float32] = (x / sums[..., None]).astype(np.float32)
        return probs
    return _softmax(x)


def _nms(boxes: NDArray[np.float32], scores: NDArray[np.float32], threshold: float) -> list[int]:
    """Greedy non-maximum suppression on ``(N, 4)`` x1, y1, x2, y2 boxes; indices kept."""
    order = np.argsort(-scores)
    areas = np.maximum(0, boxes[:, 2] - boxes[:, 0]) * np.maximum(0, boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size and len(keep) < MAX_FACES:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.maximum(0, xx2 - xx1) * np.maximum(0, yy2 - yy1)
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= threshold]
    return keep


def _warp(pixels: NDArray[np.uint8], matrix: NDArray[np.float64], size: int) -> NDArray[np.uint8]:
    """Warp to a ``size`` square; when shrinking by more than 2x, warp larger then INTER_AREA.

    A direct bilinear warp aliases when a large face is shrunk to 32-112 px (dlib's
    ``extract_image_chip`` low-pass filters for the same reason).
    """
    scale = transform_scale(matrix)
    factor = int(min(4, max(1, np.floor(0.5 / scale)))) if scale < 0.5 else 1
    if factor > 1:
        big = cv2.warpAffine(
            pixels,
            matrix * factor,
            (size * factor, size * factor),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
        )
        return np.asarray(cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA), np.uint8)
    warped = cv2.warpAffine(
        pixels, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return np.asarray(warped, dtype=np.uint8)


class OnnxFaceEngine:
    """:class:`findme.ports.FaceEngine` on onnxruntime (CPU) and OpenCV.

    Args:
        settings: model directory, thread count, detector and attribute options.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._sessions: dict[str, ort.InferenceSession | None] = {}
        self._unavailable: dict[str, str] = {}

    # --- model loading -------------------------------------------------------------------
    def _session(self, name: str) -> ort.InferenceSession | None:
        """The session for manifest model ``name`` (None: optional model missing/disabled).

        Raises:
            ModelUnavailableError: a required model (yunet, sface) is missing.
            ModelError: a model file fails to load.
        """
        if name in self._sessions:
            return self._sessions[name]
        with self._lock:
            if name in self._sessions:
                return self._sessions[name]
            path = self._model_path(name)
            session: ort.InferenceSession | None
            if path is None:
                if name not in _OPTIONAL:
                    raise ModelUnavailableError(
                        f"model {name!r} is not in {self._settings.model_dir}; "
                        "run `findme models pull`",
                        model=name,
                    )
                self._unavailable[name] = f"model file missing from {self._settings.model_dir}"
                session = None
            else:
                session = create_session(path, self._settings.ort_threads)
            self._sessions[name] = session
            return session

    def _model_path(self, name: str) -> Path | None:
        try:
            return model_manifest.model_path(self._settings, name)
        except ModelError:
            return None

    def load(self) -> float:
        """Create every enabled session now (cold start / benchmarks); returns seconds taken."""
        start = time.perf_counter()
        names = ["yunet", "sface"]
        if self._settings.enable_age_gender:
            names += ["age", "gender"]
        if self._settings.enable_emotion:
            names.append("emotion")
        for name in names:
            self._session(name)
        return time.perf_counter() - start

    # --- FaceEngine ----------------------------------------------------------------------
    def decode(self, data: bytes) -> DecodedImage:
        """See :meth:`findme.ports.FaceEngine.decode`."""
        return decode_image(
            data,
            max_pixels=self._settings.max_image_pixels,
            # Detection wants 2x its input; previews want their own size from the pixels.
            min_long_side=max(
                2 * self._settings.detector_input_size, self._settings.photo_preview_px
            ),
        )

    def analyze(
        self,
        data: bytes | DecodedImage,
        *,
        embed: bool = True,
        quality: bool = True,
        attributes: bool = False,
        crops: bool = False,
    ) -> ImageAnalysis:
        """Detect, align and (optionally) embed, score, describe and crop every face.

        Returns:
            Faces sorted by detector confidence (highest first); boxes and landmarks in
            original-image pixels; ``timings_ms`` has ``decode``, ``detect``, ``align``,
            ``embed``, ``quality``, ``attributes``, ``crops`` as measured.

        Raises:
            InvalidImageError, ImageTooLargeError: from :meth:`decode`.
            ModelUnavailableError: the detector or embedder is not pulled.
        """
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        image = data if isinstance(data, DecodedImage) else self.decode(data)
        timings["decode"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        faces = self.detect(image)
        timings["detect"] = (time.perf_counter() - t0) * 1000
        if faces:
            t0 = time.perf_counter()
            self._align(image, faces)
            timings["align"] = (time.perf_counter() - t0) * 1000
            if embed:
                t0 = time.perf_counter()
                self._embed(faces)
                timings["embed"] = (time.perf_counter() - t0) * 1000
            if quality:
                t0 = time.perf_counter()
                self._quality(image, faces)
                timings["quality"] = (time.perf_counter() - t0) * 1000
            if attributes:
                t0 = time.perf_counter()
                self._attributes(image, faces)
                timings["attributes"] = (time.perf_counter() - t0) * 1000
            if crops:
                t0 = time.perf_counter()
                for face in faces:
                    face.crop_jpeg = self.crop(image, face.bbox)
                timings["crops"] = (time.perf_counter() - t0) * 1000
        return ImageAnalysis(
            width=image.width,
            height=image.height,
            faces=faces,
            captured_at=image.captured_at,
            timings_ms={k: round(v, 2) for k, v in timings.items()},
        )

    def crop(self, image: DecodedImage, bbox: BoundingBox) -> bytes:
        """JPEG bytes of a square crop around ``bbox`` (original pixels) with the margin.

        The square's side is the box's longer side x (1 + 2·``face_crop_margin``), resized to
        ``face_crop_size_px``; parts outside the photo are black.
        """
        size = self._settings.face_crop_size_px
        s = image.scale
        cx, cy = (bbox.x + bbox.w / 2) / s, (bbox.y + bbox.h / 2) / s
        side = max(bbox.w, bbox.h) / s * (1 + 2 * self._settings.face_crop_margin)
        k = size / max(side, 1e-6)
        matrix = np.array([[k, 0, size / 2 - k * cx], [0, k, size / 2 - k * cy]], dtype=np.float64)
        chip = _warp(image.pixels, matrix, size)
        ok, buf = cv2.imencode(".jpg", chip, [cv2.IMWRITE_JPEG_QUALITY, CROP_JPEG_QUALITY])
        if not ok:
            raise ModelError("JPEG encoding of a face crop failed")
        return bytes(buf.tobytes())

    def render(self, image: DecodedImage, long_sides: Sequence[int]) -> list[bytes]:
        """See :meth:`findme.ports.FaceEngine.render` (quality ``photo_rendition_quality``)."""
        return encode_renditions(
            image.pixels, tuple(long_sides), quality=self._settings.photo_rendition_quality
        )

    # --- steps ------------------------------------------------------------------------------
    def detect(self, image: DecodedImage) -> list[DetectedFace]:
        """YuNet faces of ``image``: boxes and landmarks in original pixels, best first."""
        session = self._session("yunet")
        assert session is not None  # required model: _session raises when missing
        pixels = image.pixels
        h, w = pixels.shape[:2]
        target = self._settings.detector_input_size
        input_shape = session.get_inputs()[0].shape
        fixed = isinstance(input_shape[2], int) and isinstance(input_shape[3], int)
        if fixed:
            in_h, in_w = int(input_shape[2]), int(input_shape[3])
            r = min(in_h / h, in_w / w, 1.0)
        else:
            r = min(target / max(h, w), 1.0)
        rw, rh = max(1, round(w * r)), max(1, round(h * r))
        if not fixed:
            in_w, in_h = -(-rw // 32) * 32, -(-rh // 32) * 32
        resized = (
            pixels
            if (rw, rh) == (w, h)
            else cv2.resize(pixels, (rw, rh), interpolation=cv2.INTER_AREA)
        )
        canvas = np.zeros((in_h, in_w, 3), dtype=np.float32)
        canvas[:rh, :rw] = resized
        blob = canvas.transpose(2, 0, 1)[None]
        outputs = dict(
            zip(
                [o.name for o in session.get_outputs()],
                session.run(None, {session.get_inputs()[0].name: blob}),
                strict=True,
            )
        )
        boxes, landmarks, scores = self._decode_yunet(outputs, in_w)
        if scores.size == 0:
            return []
        # Map detector-input pixels -> decoded pixels -> original pixels.
        to_original = image.scale / r
        boxes *= to_original
        landmarks *= to_original
        faces: list[DetectedFace] = []
        for i in _nms(boxes, scores, self._settings.detector_nms_threshold):
            x1 = max(0.0, float(boxes[i, 0]))
            y1 = max(0.0, float(boxes[i, 1]))
            x2 = min(float(image.width), float(boxes[i, 2]))
            y2 = min(float(image.height), float(boxes[i, 3]))
            bbox = BoundingBox(
                x=round(x1), y=round(y1), w=max(0, round(x2 - x1)), h=max(0, round(y2 - y1))
            )
            if min(bbox.w, bbox.h) < self._settings.min_face_size_px:
                continue
            faces.append(
                DetectedFace(
                    index=len(faces),
                    bbox=bbox,
                    landmarks=landmarks[i].reshape(5, 2).astype(np.float32),
                    confidence=round(float(scores[i]), 4),
                )
            )
        return faces

    def _decode_yunet(
        self, outputs: dict[str, NDArray[np.float32]], in_w: int
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
        """YuNet 2023mar heads -> ``(N, 4)`` x1,y1,x2,y2, ``(N, 10)`` landmarks, ``(N,)`` scores.

        Decoding as OpenCV ``FaceDetectorYN::postProcess``: score = sqrt(cls · obj); centre
        = (anchor + offset) · stride; size = exp(log-size) · stride; landmarks = (anchor +
        offset) · stride. Input pixels, before NMS; only scores ≥ the threshold.
        """
        all_boxes, all_kps, all_scores = [], [], []
        for stride in YUNET_STRIDES:
            cols = in_w // stride
            cls = outputs[f"cls_{stride}"].reshape(-1)
            obj = outputs[f"obj_{stride}"].reshape(-1)
            score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
            keep = np.nonzero(score >= self._settings.detector_score_threshold)[0]
            if keep.size == 0:
                continue
            bbox = outputs[f"bbox_{stride}"].reshape(-1, 4)[keep]
            kps = outputs[f"kps_{stride}"].reshape(-1, 10)[keep]
            c = (keep % cols).astype(np.float32)
            r = (keep // cols).astype(np.float32)
            cx = (c + bbox[:, 0]) * stride
            cy = (r + bbox[:, 1]) * stride
            bw = np.exp(bbox[:, 2]) * stride
            bh = np.exp(bbox[:, 3]) * stride
            all_boxes.append(np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1))
            points = kps.reshape(-1, 5, 2).copy()
            points[:, :, 0] = (points[:, :, 0] + c[:, None]) * stride
            points[:, :, 1] = (points[:, :, 1] + r[:, None]) * stride
            all_kps.append(points.reshape(-1, 10))
            all_scores.append(score[keep])
        if not all_scores:
            empty = np.zeros((0,), np.float32)
            return empty.reshape(0, 4), empty.reshape(0, 10), empty
        scores = np.concatenate(all_scores).astype(np.float32)
        order = np.argsort(-scores)[:YUNET_TOP_K]
        return (
            np.concatenate(all_boxes)[order].astype(np.float32),
            np.concatenate(all_kps)[order].astype(np.float32),
            scores[order],
        )

    def _decoded_landmarks(self, image: DecodedImage, face: DetectedFace) -> NDArray[np.float64]:
        return face.landmarks.astype(np.float64) / image.scale

    def _align(self, image: DecodedImage, faces: list[DetectedFace]) -> None:
        for face in faces:
            matrix = similarity_transform(
                self._decoded_landmarks(image, face), ARCFACE_TEMPLATE_112
            )
            face.aligned = _warp(image.pixels, matrix, ALIGNED_PX)

    def _embed(self, faces: list[DetectedFace]) -> None:
        batch = np.stack([f.aligned for f in faces if f.aligned is not None])
        for face, vector in zip(faces, self.embed_aligned(batch), strict=True):
            face.embedding = vector

    def embed_aligned(self, crops: NDArray[np.uint8]) -> NDArray[np.float32]:
        """SFace embeddings of aligned crops.

        Args:
            crops: ``(N, 112, 112, 3) uint8`` BGR crops aligned to the ArcFace template.

        Returns:
            ``(N, 128) float32``, L2-normalised.

        Raises:
            ModelUnavailableError: SFace is not pulled.
        """
        session = self._session("sface")
        assert session is not None
        # SFace takes RGB 0-255, no normalisation (OpenCV FaceRecognizerSF::feature).
        blob = crops[:, :, :, ::-1].transpose(0, 3, 1, 2).astype(np.float32)
        return l2_normalize(self._run_batched(session, blob))

    @staticmethod
    def _run_batched(
        session: ort.InferenceSession, blob: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        """Run a ``(N, ...)`` batch; one face at a time when the graph's batch is fixed at 1."""
        model_input = session.get_inputs()[0]
        if model_input.shape[0] == 1 and blob.shape[0] > 1:
            parts = [
                session.run(None, {model_input.name: blob[i : i + 1]})[0] for i in range(len(blob))
            ]
            return np.concatenate(parts).astype(np.float32)
        out: Any = session.run(None, {model_input.name: blob})[0]
        return np.asarray(out, dtype=np.float32)

    def _quality(self, image: DecodedImage, faces: list[DetectedFace]) -> None:
        for face in faces:
            assert face.aligned is not None
            gray_aligned = np.asarray(cv2.cvtColor(face.aligned, cv2.COLOR_BGR2GRAY), np.uint8)
            s = image.scale
            x0, y0 = int(face.bbox.x / s), int(face.bbox.y / s)
            x1 = int((face.bbox.x + face.bbox.w) / s)
            y1 = int((face.bbox.y + face.bbox.h) / s)
            region = image.pixels[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)]
            gray_box = np.asarray(cv2.cvtColor(region, cv2.COLOR_BGR2GRAY), np.uint8)
            face.quality = quality_mod.assess(
                blur=quality_mod.blur_score(gray_aligned),
                brightness=quality_mod.brightness_score(gray_box),
                confidence=face.confidence,
                face_size_px=min(face.bbox.w, face.bbox.h),
                landmarks=face.landmarks,
            )

    def _dlib_chips(
        self, image: DecodedImage, faces: list[DetectedFace], size: int
    ) -> NDArray[np.float32]:
        """``(N, 3, size, size) float32`` dlib-style chips, RGB, (x − mean RGB) / 256."""
        template = dlib_chip_template(size, DLIB_CHIP_PADDING)
        chips = [
            _warp(
                image.pixels,
                similarity_transform(self._decoded_landmarks(image, f), template),
                size,
            )
            for f in faces
        ]
        rgb = np.stack(chips)[:, :, :, ::-1].astype(np.float32)
        return ((rgb - DLIB_MEAN_RGB) / 256.0).transpose(0, 3, 1, 2).astype(np.float32)

    # Long on purpose: the three attribute heads (age, gender, emotion) share the enabled and
    # unavailable bookkeeping and fill one result per face; each head is a few lines.
    def _attributes(self, image: DecodedImage, faces: list[DetectedFace]) -> None:
        n = len(faces)
        unavailable: dict[str, str] = {}
        ages: list[int | None] = [None] * n
        genders: list[tuple[str, float] | None] = [None] * n
        emotions: list[dict[str, float] | None] = [None] * n

        if not self._settings.enable_age_gender:
            unavailable["age"] = unavailable["gender"] = "disabled by setting enable_age_gender"
        else:
            age_session = self._session("age")
            if age_session is None:
                unavailable["age"] = self._unavailable.get("age", "model unavailable")
            else:
                probs = _as_probabilities(
                    self._run_batched(age_session, self._dlib_chips(image, faces, AGE_CHIP_PX))
                )
                ages = [round(float(p @ AGE_BINS)) for p in probs]
            gender_session = self._session("gender")
            if gender_session is None:
                unavailable["gender"] = self._unavailable.get("gender", "model unavailable")
            else:
                probs = _as_probabilities(
                    self._run_batched(
                        gender_session, self._dlib_chips(image, faces, GENDER_CHIP_PX)
                    )
                )
                genders = [
                    (GENDER_LABELS[int(p.argmax())], round(float(p.max()), 4)) for p in probs
                ]

        if not self._settings.enable_emotion:
            unavailable["emotion"] = "disabled by setting enable_emotion"
        else:
            emotion_session = self._session("emotion")
            if emotion_session is None:
                unavailable["emotion"] = self._unavailable.get("emotion", "model unavailable")
            else:
                # RGB, (x / 255 - 0.5) / 0.5, NCHW (OpenCV zoo facial_fer_model.py).
                batch = np.stack([f.aligned for f in faces if f.aligned is not None])
                blob = ((batch[:, :, :, ::-1].astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(
                    0, 3, 1, 2
                )
                probs = _softmax(self._run_batched(emotion_session, np.ascontiguousarray(blob)))
                emotions = [
                    {name: round(float(v), 4) for name, v in zip(EMOTIONS, p, strict=True)}
                    for p in probs
                ]

        for i, face in enumerate(faces):
            age = ages[i]
            gender = genders[i]
            emotion = emotions[i]
            face.attributes = Attributes(
                age=age,
                age_range=(max(0, age - AGE_RANGE_YEARS), age + AGE_RANGE_YEARS)
                if age is not None
                else None,
                gender=gender[0] if gender else None,
                gender_confidence=gender[1] if gender else None,
                emotion=emotion,
                dominant_emotion=max(emotion, key=lambda k: emotion[k]) if emotion else None,
                unavailable=dict(unavailable),
            )
