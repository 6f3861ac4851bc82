"""Graph rewrites that make the pinned ONNX models faster under onnxruntime, same numbers.

Used only by ``findme models pull`` (needs the ``onnx`` package, pinned in the ``digest``
extra). A derived copy is the original with a list of named transforms applied in order; each
transform is deterministic, so the derived file's sha256 is pinned in the manifest beside the
original's. Every transform keeps the model's function: outputs agree with the original's to
float32 rounding (about 1e-6; ``tests/integration/engine/test_model_transforms.py``), except
``dequantize_int8``, which keeps the int8 weights' values but computes in float32.

- ``dynamic_input_hw``: YuNet 2023mar ships with a fixed ``1x3x640x640`` input, but every op is
  size-agnostic (its Reshapes use ``[1, -1, k]``), so making H and W symbolic lets the detector
  run at the photo's aspect ratio (any multiple of 32) instead of letterboxing to a square.
- ``initializers_out_of_inputs``: SFace 2021dec lists its 174 initializers as graph inputs,
  which stops onnxruntime constant-folding them (see onnxruntime's
  ``tools/python/remove_initializer_from_input.py``); ~38 -> ~27 ms/face on 2 vCPU.
- ``dynamic_batch``: the batch dimension of the input and outputs made symbolic (graphs that
  end in Flatten/Gemm/MatMul are batch-agnostic), so one photo's faces run in one call.
- ``prelu_as_relu_batchnorm``: onnxruntime's CPU PRelu is a slow generic broadcast, and it is
  not one of the ops its NCHWc layout transformer handles, so every PRelu also costs two
  layout reorders. ``PRelu(x) = (1 - a)·Relu(x) + a·x`` for a per-channel slope ``a``
  (check: x ≥ 0 gives x, x < 0 gives a·x), written as Relu, two per-channel
  BatchNormalizations (scale ``1 - a`` and ``a``, mean 0, variance ``1 - eps``) and Add: all
  four stay in NCHWc. Measured on one thread (benchmarks/face_engine.py --compare-models):
  SFace ~33 -> ~17 ms/face, the expression model ~12 -> ~6.5 ms/face.
- ``flush_denormal_weights``: the age and gender models (converted from dlib) carry 6,667 and
  145 subnormal float32 weights (|w| < 1.18e-38); on x86 every multiply by a subnormal takes
  the slow microcode path, and onnxruntime's ``set_denormal_as_zero`` only reaches its pool
  threads, not the caller's thread that a one-thread session runs on. Setting them to 0 changes
  no output beyond float32 rounding: age ~11.5 -> ~1.5 ms/face.
- ``dequantize_int8``: the OpenCV zoo expression model ships only as int8 QOperator graph
  (QLinearConv/QLinearAdd/QLinearMatMul with a Quantize/Dequantize pair around each PRelu):
  the weights are dequantized (``(w - zero_point) · scale``, per output channel) into plain
  float Conv/Add/MatMul and the activation (de)quantization dropped, so the PRelu rewrite can
  apply. Outputs move by about 0.2 logits (the activations are no longer rounded to 8 bits);
  the expression chosen is unchanged on faces-dev (the integration test above).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from findme.errors import ModelError

#: BatchNormalization's epsilon in the PRelu rewrite; the variance is ``1 - eps`` so that
#: ``1 / sqrt(var + eps)`` is exactly 1.
_BN_EPSILON = 1e-5


def _load(path: Path) -> Any:
    import onnx

    return onnx.load(str(path))


def _save(model: Any, path: Path) -> None:
    import onnx

    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _dynamic_input_hw(model: Any) -> Any:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param = "height"
    dims[3].dim_param = "width"
    for output in model.graph.output:
        output.type.tensor_type.shape.dim[1].dim_param = "anchors"
    # Intermediate shapes inferred for 640x640 would be wrong at other sizes.
    del model.graph.value_info[:]
    return model


def _initializers_out_of_inputs(model: Any) -> Any:
    initializers = {init.name for init in model.graph.initializer}
    real_inputs = [i for i in model.graph.input if i.name not in initializers]
    del model.graph.input[:]
    model.graph.input.extend(real_inputs)
    return model


def _dynamic_batch(model: Any) -> Any:
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    for output in model.graph.output:
        output.type.tensor_type.shape.dim[0].dim_param = "batch"
    del model.graph.value_info[:]
    return model


def _drop_unused_initializers(model: Any) -> None:
    used = {name for node in model.graph.node for name in node.input}
    used |= {output.name for output in model.graph.output}
    keep = [init for init in model.graph.initializer if init.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)


def _prelu_as_relu_batchnorm(model: Any) -> Any:
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    nodes: list[Any] = []
    added: list[Any] = []
    for node in graph.node:
        if node.op_type != "PRelu" or node.input[1] not in initializers:
            nodes.append(node)
            continue
        x, slope_name = node.input
        slope = numpy_helper.to_array(initializers[slope_name]).astype(np.float32).reshape(-1)
        if slope.size == 1:  # a shared slope: BatchNormalization needs one value per channel
            nodes.append(node)
            continue
        out = node.output[0]
        zero, variance = f"{out}/zero", f"{out}/variance"
        added += [
            numpy_helper.from_array((1.0 - slope).astype(np.float32), f"{out}/relu_scale"),
            numpy_helper.from_array(slope, f"{out}/slope"),
            numpy_helper.from_array(np.zeros_like(slope), zero),
            numpy_helper.from_array(np.full_like(slope, 1.0 - _BN_EPSILON), variance),
        ]
        nodes += [
            helper.make_node("Relu", [x], [f"{out}/relu"], name=f"{node.name}/relu"),
            helper.make_node(
                "BatchNormalization",
                [f"{out}/relu", f"{out}/relu_scale", zero, zero, variance],
                [f"{out}/positive"],
                name=f"{node.name}/positive",
                epsilon=_BN_EPSILON,
            ),
            helper.make_node(
                "BatchNormalization",
                [x, f"{out}/slope", zero, zero, variance],
                [f"{out}/linear"],
                name=f"{node.name}/linear",
                epsilon=_BN_EPSILON,
            ),
            helper.make_node(
                "Add", [f"{out}/positive", f"{out}/linear"], [out], name=f"{node.name}/add"
            ),
        ]
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(added)
    _drop_unused_initializers(model)
    return model


def _flush_denormal_weights(model: Any) -> Any:
    import numpy as np
    from onnx import numpy_helper

    tiny = np.finfo(np.float32).tiny
    for init in model.graph.initializer:
        values = numpy_helper.to_array(init)
        if values.dtype != np.float32:
            continue
        subnormal = (values != 0) & (np.abs(values) < tiny)
        if subnormal.any():
            flushed = np.where(subnormal, np.float32(0), values).astype(np.float32)
            init.CopyFrom(numpy_helper.from_array(flushed, init.name))
    return model


# Long on purpose: one pass over the int8 graph, one short branch per quantized op type, all
# sharing the name maps (quantized tensor -> its float twin).
def _dequantize_int8(model: Any) -> Any:
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    consts = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    new_consts: dict[str, Any] = {}
    float_of: dict[str, str] = {}  # quantized activation -> the float tensor it stands for
    nodes: list[Any] = []

    def resolve(name: str) -> str:
        return float_of.get(name, name)

    def dequantized(q: str, scale: str, zero_point: str, axis: int) -> Any:
        values = consts[q].astype(np.float32)
        s = consts[scale].astype(np.float32)
        z = consts[zero_point].astype(np.float32)
        if s.size > 1:  # per-channel
            shape = [1] * values.ndim
            shape[axis] = s.size
            s = s.reshape(shape)
            z = z.reshape(shape) if z.size > 1 else z
        return (values - z) * s

    def attributes(node: Any) -> dict[str, Any]:
        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

    for node in graph.node:
        ins = list(node.input)
        op = node.op_type
        if op == "QuantizeLinear":
            float_of[node.output[0]] = resolve(ins[0])
        elif op == "DequantizeLinear" and ins[0] in consts:
            new_consts[node.output[0]] = dequantized(ins[0], ins[1], ins[2], axis=0)
        elif op == "DequantizeLinear":
            float_of[node.output[0]] = resolve(ins[0])
        elif op == "QLinearConv":
            weight = f"{ins[3]}/float"
            new_consts[weight] = dequantized(ins[3], ins[4], ins[5], axis=0)
            conv_inputs = [resolve(ins[0]), weight]
            if len(ins) > 8 and ins[8]:  # int32 bias, scale = x_scale * w_scale
                bias = f"{ins[8]}/float"
                scale = consts[ins[1]].astype(np.float32) * consts[ins[4]].astype(np.float32)
                new_consts[bias] = consts[ins[8]].astype(np.float32) * scale
                conv_inputs.append(bias)
            out = f"{node.output[0]}/float"
            nodes.append(
                helper.make_node("Conv", conv_inputs, [out], name=node.name, **attributes(node))
            )
            float_of[node.output[0]] = out
        elif op == "QLinearMatMul":
            weight = f"{ins[3]}/float"
            new_consts[weight] = dequantized(ins[3], ins[4], ins[5], axis=1)
            out = f"{node.output[0]}/float"
            nodes.append(
                helper.make_node("MatMul", [resolve(ins[0]), weight], [out], name=node.name)
            )
            float_of[node.output[0]] = out
        elif op == "QLinearAdd":
            operands = []
            for q, scale, zero_point in ((ins[0], ins[1], ins[2]), (ins[3], ins[4], ins[5])):
                if q in consts:
                    new_consts[f"{q}/float"] = dequantized(q, scale, zero_point, axis=0)
                    operands.append(f"{q}/float")
                else:
                    operands.append(resolve(q))
            out = f"{node.output[0]}/float"
            nodes.append(helper.make_node("Add", operands, [out], name=node.name))
            float_of[node.output[0]] = out
        elif op.startswith("QLinear") or op in {"QuantizeLinear", "DequantizeLinear"}:
            raise ModelError(f"dequantize_int8 does not handle {op}", op=op)
        else:
            nodes.append(
                helper.make_node(
                    op,
                    [resolve(i) if i else i for i in ins],
                    list(node.output),
                    name=node.name,
                    domain=node.domain or None,
                    **attributes(node),
                )
            )
    for output in graph.output:
        if resolve(output.name) != output.name:
            nodes.append(
                helper.make_node(
                    "Identity", [resolve(output.name)], [output.name], name=f"{output.name}/out"
                )
            )
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(
        numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in new_consts.items()
    )
    _drop_unused_initializers(model)
    del graph.value_info[:]
    # The contrib domains (com.microsoft QLinearAdd) are gone with their ops.
    standard = [o for o in model.opset_import if o.domain in ("", "ai.onnx")]
    del model.opset_import[:]
    model.opset_import.extend(standard)
    return model


TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "dynamic_input_hw": _dynamic_input_hw,
    "initializers_out_of_inputs": _initializers_out_of_inputs,
    "dynamic_batch": _dynamic_batch,
    "prelu_as_relu_batchnorm": _prelu_as_relu_batchnorm,
    "flush_denormal_weights": _flush_denormal_weights,
    "dequantize_int8": _dequantize_int8,
}


def apply_transforms(names: Sequence[str], src: Path, dst: Path) -> None:
    """Write ``dst``: the ONNX model ``src`` with the transforms ``names`` applied in order.

    Raises:
        ModelError: an unknown transform, a graph a transform cannot handle, or the ``onnx``
            package is not installed.
    """
    unknown = [name for name in names if name not in TRANSFORMS]
    if unknown:
        raise ModelError(f"unknown model transform {unknown[0]!r}", transform=unknown[0])
    try:
        model = _load(src)
        for name in names:
            model = TRANSFORMS[name](model)
        _save(model, dst)
    except ImportError as exc:
        raise ModelError(
            "deriving model copies needs the 'onnx' package (pip install '.[digest]')"
        ) from exc
