"""Alignment maths and cosine similarity (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest
from findme.domain.alignment import (
    ARCFACE_TEMPLATE_112,
    dlib_chip_template,
    similarity_transform,
    transform_scale,
)
from findme.domain.similarity import cosine_similarity, cosine_similarity_matrix, l2_normalize


def test_similarity_transform_recovers_a_known_transform() -> None:
    # Given template points moved by a known rotation, scale and translation
    theta, scale, shift = np.radians(20), 3.5, np.array([400.0, 250.0])
    rot = scale * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    src = ARCFACE_TEMPLATE_112 @ rot.T + shift
    # When estimating the transform back onto the template
    matrix = similarity_transform(src, ARCFACE_TEMPLATE_112)
    # Then it maps every point exactly and its scale is the inverse scale
    mapped = src @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(mapped, ARCFACE_TEMPLATE_112, atol=1e-9)
    assert transform_scale(matrix) == pytest.approx(1 / scale)


def test_dlib_chip_template_is_inside_the_chip_and_ordered() -> None:
    chip = dlib_chip_template(64, 0.2)
    assert chip.shape == (5, 2)
    assert np.all(chip > 0)
    assert np.all(chip < 64)
    left_eye, right_eye, nose, mouth_left, mouth_right = chip
    assert left_eye[0] < nose[0] < right_eye[0]
    assert mouth_left[0] < mouth_right[0]
    assert left_eye[1] < nose[1] < mouth_left[1]


def test_cosine_similarity() -> None:
    a = np.array([1.0, 0.0, 0.0])
    b = np.array([2.0, 2.0, 0.0])
    assert cosine_similarity(a, b) == pytest.approx(np.sqrt(0.5))
    assert cosine_similarity(a, -a) == pytest.approx(-1.0)
    matrix = cosine_similarity_matrix(np.stack([a, b]))
    assert matrix.shape == (2, 2)
    np.testing.assert_allclose(np.diag(matrix), [1.0, 1.0], atol=1e-6)
    unit = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(unit, [[0.6, 0.8], [0.0, 0.0]], atol=1e-6)
    assert unit.dtype == np.float32
