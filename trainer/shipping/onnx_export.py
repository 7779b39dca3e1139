"""The ONNX contract: build a predictor graph from trained weights and check it before it ships.

The graph is assembled op by op (not traced), so it contains exactly the allowlisted ops, the
log inputs and the normalisation are baked in as constants, and serialisation is byte-for-byte
deterministic. The runtime keeps feeding raw values in the documented order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from trainer.core.features import FEATURE_NAMES, LOG_FLOOR, N_FEATURES

if TYPE_CHECKING:
    import onnx

    from trainer.learning.model import MLPWeights

# onnx is imported where a graph is built or checked, not at module level: importing it costs about
# 0.5 s (ml_dtypes), and every run's start-up imported it through the cards' constants, before the
# fork server could begin importing torch; a failing codec never builds a graph.

OPSET = 18
IR_VERSION = 10
INPUT_NAME = "input"
OUTPUT_NAME = "vmaf"
# What libvmaf's ONNX loader accepts and these graphs use; Max and Log carry the log inputs.
OP_ALLOWLIST = frozenset({"Gemm", "MatMul", "Add", "Relu", "Sigmoid", "Mul", "Sub", "Div", "Constant", "Max", "Log"})
PARITY_TOLERANCE = 1e-4
RECOVERED_INPUT = "input_probe_bitrate_recovered"
# The harness's probe encodes at most this many frames (predictor_features.py ``probe_max_frames``).
PROBE_MAX_FRAMES = 240


def build_onnx(weights: MLPWeights, codec: str) -> bytes:
    """Serialise one model (``weights`` holding a single model) as the runtime contract demands."""
    if weights.w1.shape[0] != 1:
        raise ValueError(f"expected one model, got {weights.w1.shape[0]}")
    from onnx import TensorProto, helper, numpy_helper

    def const(name: str, array: np.ndarray) -> onnx.TensorProto:
        return numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name)

    log_mask = np.asarray(weights.log_mask[0], dtype=bool)
    initializers, nodes = probe_bitrate_recovery(const, helper.make_node)
    features = RECOVERED_INPUT
    if log_mask.any():
        # x' = x * (1 - m) + log(max(x, floor)) * m: exact on both sides (x*1, x*0 and log*1 add
        # nothing), where a difference form would lose float32 digits on large raw values.
        initializers += [
            const("log_floor", np.full(N_FEATURES, LOG_FLOOR)),
            const("log_select", log_mask.astype(np.float32)),
            const("raw_select", (~log_mask).astype(np.float32)),
        ]
        nodes += [
            helper.make_node("Max", [RECOVERED_INPUT, "log_floor"], ["floored"], name="log_floor"),
            helper.make_node("Log", ["floored"], ["logged"], name="log_inputs"),
            helper.make_node("Mul", ["logged", "log_select"], ["log_part"], name="keep_log_columns"),
            helper.make_node("Mul", [RECOVERED_INPUT, "raw_select"], ["raw_part"], name="keep_raw_columns"),
            helper.make_node("Add", ["log_part", "raw_part"], ["model_inputs"], name="join_columns"),
        ]
        features = "model_inputs"
    initializers += [
        const("feature_mean", weights.mean[0]),
        const("feature_std", weights.std[0]),
        const("w1", weights.w1[0]),
        const("b1", weights.b1[0]),
        const("w2", weights.w2[0]),
        const("b2", weights.b2[0]),
        const("w3", weights.w3[0]),
        const("b3", weights.b3[0]),
        const("vmaf_scale", np.array(100.0)),
    ]
    nodes += [
        helper.make_node("Sub", [features, "feature_mean"], ["centred"], name="normalise_sub"),
        helper.make_node("Div", ["centred", "feature_std"], ["normalised"], name="normalise_div"),
        helper.make_node("Gemm", ["normalised", "w1", "b1"], ["h1_linear"], name="layer1"),
        helper.make_node("Relu", ["h1_linear"], ["h1"], name="layer1_relu"),
        helper.make_node("Gemm", ["h1", "w2", "b2"], ["h2_linear"], name="layer2"),
        helper.make_node("Relu", ["h2_linear"], ["h2"], name="layer2_relu"),
        helper.make_node("Gemm", ["h2", "w3", "b3"], ["logit"], name="layer3"),
        helper.make_node("Sigmoid", ["logit"], ["unit_score"], name="squash"),
        helper.make_node("Mul", ["unit_score", "vmaf_scale"], [OUTPUT_NAME], name="scale_to_vmaf"),
    ]
    graph = helper.make_graph(
        nodes,
        f"vmaf_predictor_{codec}",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", N_FEATURES])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", 1])],
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="vmaf-predictor-trainer",
        producer_version="1",
    )
    helper.set_model_props(model, {"codec": codec, "inputs": ",".join(FEATURE_NAMES)})
    return model.SerializeToString(deterministic=True)


def probe_bitrate_recovery(const: Callable[[str, np.ndarray], onnx.TensorProto],
                           node: Callable[..., onnx.NodeProto]) -> tuple[list[onnx.TensorProto], list[onnx.NodeProto]]:
    """The graph's first step: a probe bitrate of 0 (or less) means "not measured", and is recovered.

    The published harness encodes its probe to ``-f null``, where ffmpeg prints ``bitrate=N/A``, so it
    sends 0 kbps beside real frame sizes (docs/harness.md). The probe codes one I-frame and P-frames only
    (ultrafast, ``probe_max_frames`` 240 < keyint 250), so its bitrate follows from inputs it does send:
    ``kbps = 8 * fps * (I + (n - 1) * P) / n / 1000`` with ``n = max(1, min(shot_length_frames, 240))``.
    A measured bitrate passes through unchanged (the blend factor is exactly 0 above 1e-6 kbps); with
    no frame sizes either, the recovered value is 0 too. Allowlisted ops only: no Where, no Less.
    """
    column = {name: np.eye(N_FEATURES, dtype=np.float32)[:, [FEATURE_NAMES.index(name)]]
              for name in ("probe_bitrate_kbps", "probe_i_frame_avg_bytes", "probe_p_frame_avg_bytes",
                           "shot_length_frames", "fps")}
    initializers = [const(f"pick_{name}", picked) for name, picked in column.items()] + [
        const("bitrate_row", column["probe_bitrate_kbps"].T),
        const("minus_one", np.array(-1.0)), const("one", np.array(1.0)), const("zero", np.array(0.0)),
        const("minus_probe_frames", np.array(-float(PROBE_MAX_FRAMES))),
        const("bits_per_kilobyte", np.array(8.0 / 1000.0)), const("unmeasured_scale", np.array(1e6)),
    ]
    nodes = [node("MatMul", [INPUT_NAME, f"pick_{name}"], [name], name=f"column_{name}") for name in column]
    nodes += [
        # n = max(1, min(shot, 240)), min written as -max(-a, -b)
        node("Mul", ["shot_length_frames", "minus_one"], ["minus_shot"], name="negate_shot"),
        node("Max", ["minus_shot", "minus_probe_frames"], ["minus_capped"], name="cap_probe_frames"),
        node("Mul", ["minus_capped", "minus_one"], ["capped_frames"], name="capped_frames"),
        node("Max", ["capped_frames", "one"], ["probe_frames"], name="at_least_one_frame"),
        # bytes = I + (n - 1) * P; kbps = bytes / n * fps * 8 / 1000
        node("Sub", ["probe_frames", "one"], ["p_frames"], name="p_frame_count"),
        node("Mul", ["p_frames", "probe_p_frame_avg_bytes"], ["p_bytes"], name="p_bytes"),
        node("Add", ["p_bytes", "probe_i_frame_avg_bytes"], ["probe_bytes"], name="probe_bytes"),
        node("Div", ["probe_bytes", "probe_frames"], ["bytes_per_frame"], name="bytes_per_frame"),
        node("Mul", ["bytes_per_frame", "fps"], ["bytes_per_second"], name="bytes_per_second"),
        node("Mul", ["bytes_per_second", "bits_per_kilobyte"], ["recovered_kbps"], name="recovered_kbps"),
        # blend = clamp(1 - kbps * 1e6, 0, 1): 1 at 0 kbps, exactly 0 from 1e-6 kbps on
        node("Mul", ["probe_bitrate_kbps", "unmeasured_scale"], ["scaled_kbps"], name="scale_kbps"),
        node("Sub", ["one", "scaled_kbps"], ["unmeasured_raw"], name="unmeasured_raw"),
        node("Max", ["unmeasured_raw", "zero"], ["unmeasured_low"], name="unmeasured_floor"),
        node("Mul", ["unmeasured_low", "minus_one"], ["minus_unmeasured"], name="negate_unmeasured"),
        node("Max", ["minus_unmeasured", "minus_one"], ["minus_blend"], name="unmeasured_ceiling"),
        node("Mul", ["minus_blend", "minus_one"], ["unmeasured"], name="unmeasured"),
        node("Mul", ["unmeasured", "recovered_kbps"], ["added_kbps"], name="added_kbps"),
        node("MatMul", ["added_kbps", "bitrate_row"], ["added_column"], name="into_bitrate_column"),
        node("Add", [INPUT_NAME, "added_column"], [RECOVERED_INPUT], name="recovered_input"),
    ]
    return initializers, nodes


def graph_ops(model: onnx.ModelProto | bytes) -> list[str]:
    """The distinct op types a model uses, sorted: what the allowlist check and the card report."""
    if isinstance(model, bytes):
        import onnx

        model = onnx.load_from_string(model)
    return sorted({node.op_type for node in model.graph.node})


# Rows per onnxruntime call: the hidden layers of one call hold 2 x 64 floats per row, so a million-row table
# scored in one call would need about 0.5 GB of activations on top of the table (issue #36).
ORT_CHUNK_ROWS = 65_536


def ort_predictor(onnx_bytes: bytes) -> Callable[[np.ndarray], np.ndarray]:
    """One onnxruntime session as a function of feature rows -> ``[n, 1]`` float32, scored a chunk of rows at
    a time so memory does not grow with ``n``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])

    def run(features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=np.float32)
        if features.shape[0] <= ORT_CHUNK_ROWS:
            return session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(features)})[0]
        return np.concatenate([
            session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(features[start:start + ORT_CHUNK_ROWS])})[0]
            for start in range(0, features.shape[0], ORT_CHUNK_ROWS)])

    return run


def ort_predict(onnx_bytes: bytes, features: np.ndarray) -> np.ndarray:
    return ort_predictor(onnx_bytes)(features)


def validate_onnx(onnx_bytes: bytes, weights: MLPWeights, features: np.ndarray) -> list[str]:
    """Every reason this model may not replace a shipped one; empty means it may."""
    import onnx

    problems: list[str] = []
    try:
        model = onnx.load_from_string(onnx_bytes)
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:
        return [f"onnx.checker failed: {exc}"]
    outside = [op for op in graph_ops(model) if op not in OP_ALLOWLIST]
    if outside:
        problems.append(f"ops outside the allowlist: {', '.join(outside)}")
    opset = {o.domain: o.version for o in model.opset_import}.get("")
    if opset != OPSET:
        problems.append(f"opset {opset}, contract requires {OPSET}")
    inputs, outputs = model.graph.input, model.graph.output
    if [i.name for i in inputs] != [INPUT_NAME] or [o.name for o in outputs] != [OUTPUT_NAME]:
        problems.append(f"graph I/O must be '{INPUT_NAME}' -> '{OUTPUT_NAME}'")
    else:
        dims = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in inputs[0].type.tensor_type.shape.dim]
        if len(dims) != 2 or dims[1] != N_FEATURES or isinstance(dims[0], int):
            problems.append(f"input shape {dims}, contract requires [N, {N_FEATURES}] with dynamic N")
    if problems:
        return problems
    try:
        ort_out = ort_predict(onnx_bytes, features)
    except Exception as exc:
        return [f"onnxruntime could not run the model: {exc}"]
    from trainer.learning.model import predict  # torch: only when a model is actually being checked

    torch_out = predict(weights, features)[0]
    if ort_out.shape != (features.shape[0], 1) or ort_out.dtype != np.float32:
        problems.append(f"output {ort_out.dtype}{list(ort_out.shape)}, contract requires float32 [N, 1]")
    else:
        gap = float(np.max(np.abs(ort_out[:, 0] - torch_out))) if features.shape[0] else 0.0
        if not gap <= PARITY_TOLERANCE:
            problems.append(f"onnxruntime differs from torch by {gap:.3g} > {PARITY_TOLERANCE:g}")
    return problems
