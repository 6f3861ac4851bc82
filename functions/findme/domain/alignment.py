"""Five-point face alignment: templates and the least-squares similarity transform (pure numpy).

Landmarks are in LANDMARK_NAMES order (``left_eye`` = the eye on the image's left, as YuNet
and the ArcFace template order them).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

#: ArcFace/SFace 112x112 template (pixels), from insightface ``utils/face_align.py``
#: (``arcface_dst``): left eye, right eye, nose tip, left and right mouth corners.
ARCFACE_TEMPLATE_112: NDArray[np.float64] = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)

#: YuNet's five points on dlib's mean face (unit square), from the 68-point mean face shape
#: in dlib ``get_face_chip_details`` (``mean_face_shape_x/y``): eye centres = means of points
#: 36-41 and 42-47, nose tip = point 30, mouth corners = points 48 and 54.
_DLIB_MEAN_FACE_5: NDArray[np.float64] = np.array(
    [
        [
            np.mean([0.121737, 0.187122, 0.265825, 0.334606, 0.260918, 0.182743]),
            np.mean([0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077]),
        ],
        [
            np.mean([0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335]),
            np.mean([0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099]),
        ],
        [0.490127, 0.515625],
        [0.254149, 0.780233],
        [0.726104, 0.780233],
    ],
    dtype=np.float64,
)


def dlib_chip_template(size: int, padding: float = 0.2) -> NDArray[np.float64]:
    """The five points of a dlib face chip of ``size`` pixels with ``padding``.

    dlib maps a mean-face point ``p`` to ``(padding + p) / (2·padding + 1) · size``.

    Returns:
        ``(5, 2) float64`` chip pixels.
    """
    return (padding + _DLIB_MEAN_FACE_5) / (2.0 * padding + 1.0) * float(size)


def similarity_transform(
    src: NDArray[np.floating], dst: NDArray[np.floating]
) -> NDArray[np.float64]:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src onto dst.

    Umeyama, "Least-squares estimation of transformation parameters between two point
    patterns", IEEE TPAMI 13(4), 1991 (as in skimage ``SimilarityTransform.estimate``).

    Args:
        src: ``(N, 2)`` points, N ≥ 2 (e.g. detected landmarks, pixels).
        dst: ``(N, 2)`` points (e.g. a template, pixels).

    Returns:
        ``(2, 3) float64`` affine matrix ``M`` with ``dst ≈ M @ [x, y, 1]``.
    """
    s = np.asarray(src, dtype=np.float64)
    d = np.asarray(dst, dtype=np.float64)
    n = s.shape[0]
    s_mean, d_mean = s.mean(axis=0), d.mean(axis=0)
    s_c, d_c = s - s_mean, d - d_mean
    cov = d_c.T @ s_c / n
    u, sigma, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    var_s = (s_c**2).sum() / n
    scale = float((sigma * sign).sum() / var_s) if var_s > 0 else 1.0
    matrix = np.zeros((2, 3), dtype=np.float64)
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = d_mean - scale * rotation @ s_mean
    return matrix


def transform_scale(matrix: NDArray[np.float64]) -> float:
    """Uniform scale of a similarity matrix (output pixels per input pixel)."""
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
