"""Graph rewrites that make the pinned ONNX models friendlier to onnxruntime.

Used only by ``findme models pull`` (needs the ``onnx`` package, pinned in the ``digest``
extra). Each transform is deterministic, so the derived file's sha256 is pinned in the
manifest beside the original's.

- ``dynamic_input_hw``: YuNet 2023mar ships with a fixed ``1x3x640x640`` input, but every op is
  size-agnostic (its Reshapes use ``[1, -1, k]``), so making H and W symbolic lets the detector
  run at the photo's aspect ratio (any multiple of 32) instead of letterboxing to a square.
- ``initializers_out_of_inputs_dynamic_batch``: SFace 2021dec lists its 174 initializers as
  graph inputs, which stops onnxruntime constant-folding them (see onnxruntime's
  ``tools/python/remove_initializer_from_input.py``); ~38 -> ~27 ms/face on 2 vCPU. Its batch
  dimension is also made symbolic (the graph ends in Flatten/Gemm, batch-agnostic) so one
  photo's faces are embedded in one run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from findme.errors import ModelError


def _load(path: Path) -> Any:
    import onnx

    return onnx.load(str(path))


def _save(model: Any, path: Path) -> None:
    import onnx

    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _dynamic_input_hw(src: Path, dst: Path) -> None:
    model = _load(src)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param = "height"
    dims[3].dim_param = "width"
    for output in model.graph.output:
        output.type.tensor_type.shape.dim[1].dim_param = "anchors"
    # Intermediate shapes inferred for 640x640 would be wrong at other sizes.
    del model.graph.value_info[:]
    _save(model, dst)


def _initializers_out_of_inputs_dynamic_batch(src: Path, dst: Path) -> None:
    model = _load(src)
    initializers = {init.name for init in model.graph.initializer}
    real_inputs = [i for i in model.graph.input if i.name not in initializers]
    del model.graph.input[:]
    model.graph.input.extend(real_inputs)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    for output in model.graph.output:
        output.type.tensor_type.shape.dim[0].dim_param = "batch"
    del model.graph.value_info[:]
    _save(model, dst)


TRANSFORMS: dict[str, Callable[[Path, Path], None]] = {
    "dynamic_input_hw": _dynamic_input_hw,
    "initializers_out_of_inputs_dynamic_batch": _initializers_out_of_inputs_dynamic_batch,
}


def apply_transform(name: str, src: Path, dst: Path) -> None:
    """Write ``dst``, the ``name`` transform of the ONNX model ``src``.

    Raises:
        ModelError: unknown transform, or the ``onnx`` package is not installed.
    """
    transform = TRANSFORMS.get(name)
    if transform is None:
        raise ModelError(f"unknown model transform {name!r}", transform=name)
    try:
        transform(src, dst)
    except ImportError as exc:
        raise ModelError(
            "deriving model copies needs the 'onnx' package (pip install '.[digest]')"
        ) from exc
