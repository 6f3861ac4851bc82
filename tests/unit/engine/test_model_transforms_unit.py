"""Each model transform on a tiny hand-built graph: same outputs as the graph it rewrote."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from findme.errors import ModelError
from findme.model_transforms import apply_transforms
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(7)


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0])


def _save(graph: onnx.GraphProto, path: Path, opset: int = 13) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _conv_prelu_graph() -> onnx.GraphProto:
    """x (1x3x8x8) -> Conv 3->4 -> PRelu with per-channel slopes of both signs, and > 1."""
    weight = RNG.normal(size=(4, 3, 3, 3)).astype(np.float32)
    slope = np.array([0.25, -0.5, 1.2, 0.0], np.float32).reshape(4, 1, 1)
    return helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("PRelu", ["c", "slope"], ["y"]),
        ],
        "prelu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(slope, "slope")],
    )


def test_prelu_as_relu_batchnorm_gives_the_same_outputs(tmp_path: Path) -> None:
    # Given a Conv + PRelu graph with negative, zero and > 1 slopes
    src = _save(_conv_prelu_graph(), tmp_path / "prelu.onnx")
    dst = tmp_path / "rewritten.onnx"
    # When PRelu is rewritten
    apply_transforms(["prelu_as_relu_batchnorm"], src, dst)
    # Then no PRelu is left, the slopes are gone as initializers, and outputs agree
    model = onnx.load(str(dst))
    assert "PRelu" not in {n.op_type for n in model.graph.node}
    assert "slope" not in {i.name for i in model.graph.initializer}
    x = RNG.normal(size=(1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(_run(dst, x), _run(src, x), rtol=1e-5, atol=1e-5)


def test_dynamic_batch_runs_several_inputs_at_once(tmp_path: Path) -> None:
    # Given the same graph made batch-agnostic
    src = _save(_conv_prelu_graph(), tmp_path / "prelu.onnx")
    dst = tmp_path / "batched.onnx"
    apply_transforms(["dynamic_batch", "prelu_as_relu_batchnorm"], src, dst)
    # When three inputs run in one call
    x = RNG.normal(size=(3, 3, 8, 8)).astype(np.float32)
    batched = _run(dst, x)
    # Then each row equals the original graph's output for that input alone
    for i in range(3):
        np.testing.assert_allclose(batched[i : i + 1], _run(src, x[i : i + 1]), atol=1e-5)


def test_flush_denormal_weights_zeroes_only_subnormals(tmp_path: Path) -> None:
    # Given a MatMul whose weights include subnormal float32 values
    weight = np.array([[1.0, 1e-40], [-3e-39, 0.5]], np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "denormal",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(weight, "w")],
    )
    src = _save(graph, tmp_path / "denormal.onnx")
    dst = tmp_path / "flushed.onnx"
    # When they are flushed
    apply_transforms(["flush_denormal_weights"], src, dst)
    # Then the subnormals are 0 and every normal weight is kept bit for bit
    flushed = numpy_helper.to_array(onnx.load(str(dst)).graph.initializer[0])
    np.testing.assert_array_equal(flushed, np.array([[1.0, 0.0], [0.0, 0.5]], np.float32))


def test_dequantize_int8_matches_the_quantized_graph_within_its_rounding(tmp_path: Path) -> None:
    # Given an int8 QOperator graph: Quantize -> QLinearConv (per-channel, int32 bias) ->
    # Dequantize -> PRelu, the pattern of the OpenCV zoo expression model
    w_scale = np.array([0.02, 0.03], np.float32)
    w_q = RNG.integers(-30, 30, size=(2, 1, 3, 3)).astype(np.int8)
    consts = {
        "x_scale": np.array(0.01, np.float32),
        "x_zp": np.array(128, np.uint8),
        "w_q": w_q,
        "w_scale": w_scale,
        "w_zp": np.zeros(2, np.int8),
        "y_scale": np.array(0.05, np.float32),  # range ±6.4: no saturation here
        "y_zp": np.array(128, np.uint8),
        "b_q": np.array([50, -30], np.int32),
        "slope": np.array([0.1, -0.2], np.float32).reshape(2, 1, 1),
    }
    graph = helper.make_graph(
        [
            helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zp"], ["x_q"]),
            helper.make_node(
                "QLinearConv",
                ["x_q", "x_scale", "x_zp", "w_q", "w_scale", "w_zp", "y_scale", "y_zp", "b_q"],
                ["y_q"],
                pads=[1, 1, 1, 1],
            ),
            helper.make_node("DequantizeLinear", ["y_q", "y_scale", "y_zp"], ["c"]),
            helper.make_node("PRelu", ["c", "slope"], ["y"]),
        ],
        "int8",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 6, 6])],
        [numpy_helper.from_array(v, k) for k, v in consts.items()],
    )
    src = _save(graph, tmp_path / "int8.onnx")
    dst = tmp_path / "float.onnx"
    # When it is dequantized (and its PRelu rewritten, as the manifest does)
    apply_transforms(["dequantize_int8", "prelu_as_relu_batchnorm"], src, dst)
    # Then only float ops remain, and outputs agree within the int8 graph's own rounding: half
    # an output step (y_scale / 2) plus nine input steps (x_scale / 2) times the largest weight
    ops = {n.op_type for n in onnx.load(str(dst)).graph.node}
    assert not {op for op in ops if "Quantize" in op or op.startswith("QLinear")}
    x = RNG.uniform(-1.0, 1.0, size=(1, 1, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(
        _run(dst, x), _run(src, x), atol=0.05 / 2 + 9 * 0.01 / 2 * 100 * 0.03 + 1e-4
    )


def test_unknown_transform_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    src = _save(_conv_prelu_graph(), tmp_path / "prelu.onnx")
    with pytest.raises(ModelError, match="unknown model transform 'nope'"):
        apply_transforms(["dynamic_batch", "nope"], src, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()
