"""Every onnxruntime option FindMe uses, in one place.

Sessions run on the CPU provider with ``intra_op_num_threads`` from ``Settings.ort_threads``
(Lambda: the function's vCPUs), one inter-op thread (our graphs are sequential), no spinning
of idle intra-op threads, full graph optimisation and warnings silenced (SFace's
initializer warnings are handled by the derived copy, see :mod:`findme.model_transforms`).
"""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from findme.errors import ModelError

PROVIDERS: tuple[str, ...] = ("CPUExecutionProvider",)
#: onnxruntime log severity: 3 = errors only.
LOG_SEVERITY = 3


def session_options(threads: int) -> ort.SessionOptions:
    """Options for one CPU session with ``threads`` intra-op threads."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = LOG_SEVERITY
    # Idle intra-op threads sleep instead of spinning: on 2 shared vCPUs spinning doubled both
    # wall and CPU time per photo (benchmarks/face_engine.py, 2 threads, 24 photos).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def create_session(path: Path, threads: int) -> ort.InferenceSession:
    """Load an ONNX model for CPU inference.

    Raises:
        ModelError: the file is missing or onnxruntime cannot load it.
    """
    try:
        return ort.InferenceSession(
            str(path), sess_options=session_options(threads), providers=list(PROVIDERS)
        )
    except Exception as exc:  # onnxruntime raises its own untyped exceptions
        raise ModelError(f"cannot load model {path.name}: {exc}", model=str(path)) from exc
