"""The face engine without models: the faces a test registered for given image bytes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from findme.domain.faces import BoundingBox, DecodedImage, DetectedFace, ImageAnalysis
from findme.errors import InvalidImageError

_JPEG_SOI = b"\xff\xd8\xff"


class FakeEngine:
    """FaceEngine returning registered faces per image bytes (none for unknown images).

    Only JPEG bytes are images (anything else is :class:`InvalidImageError`); every image is
    ``width`` x ``height``. ``decode`` gives a blank image of that size, and ``analyze`` of a
    decoded image finds the faces registered for the bytes it was decoded from.
    """

    def __init__(self, width: int = 640, height: int = 480) -> None:
        self.faces: dict[bytes, list[DetectedFace]] = {}
        self.calls = 0
        self.width, self.height = width, height
        self._decoded: dict[int, tuple[DecodedImage, bytes]] = {}  # kept: ids stay unique

    def register(self, data: bytes, faces: list[DetectedFace]) -> bytes:
        self.faces[data] = faces
        return data

    def decode(self, data: bytes) -> DecodedImage:
        if data[:3] != _JPEG_SOI:
            raise InvalidImageError("not an image")
        image = DecodedImage(
            np.zeros((self.height, self.width, 3), dtype=np.uint8), self.width, self.height
        )
        self._decoded[id(image)] = (image, data)
        return image

    def analyze(self, data: Any, **_: Any) -> ImageAnalysis:
        self.calls += 1
        if isinstance(data, DecodedImage):
            data = self._decoded.get(id(data), (data, b""))[1]
        elif not isinstance(data, bytes) or data[:3] != _JPEG_SOI:
            raise InvalidImageError("not an image")
        faces = list(self.faces.get(data, []))
        return ImageAnalysis(width=self.width, height=self.height, faces=faces)

    def crop(self, image: DecodedImage, bbox: BoundingBox) -> bytes:
        return b""

    def render(self, image: DecodedImage, long_sides: Sequence[int]) -> list[bytes]:
        return [b"jpeg-%d" % side for side in long_sides]
