"""The straight line as a model-choice candidate, written into the runtime's own MLP graph.

On small real bitrate-ladder corpora a ridge line on the inputs can predict unseen sources better
than any network trained on a dozen sources (the report's baseline shows when). Nested LOSO can
only choose the line if it is a candidate the runtime can load, so it is embedded exactly in the
14->64->64->1 ReLU MLP with a 100*sigmoid output:

- layer 1, one unit: ``ReLU(L(x) - t0)``, where ``L`` is the ridge line in VMAF units;
- layer 2, one hinge per knot ``t_k`` of a grid over the VMAF range (``_logit_map``);
- output: the piecewise-linear interpolation of ``logit(L / 100)`` through those knots, so that
  ``100 * sigmoid`` returns ``L`` itself (within 0.05 VMAF), clipped to [t0, t_last].

The interpolation mixes output-weight signs on hinges of one direction in quality, which the
quality path's sign bounds (model.weight_bounds) forbid, so the line is a candidate only where the
quality input is dead (bitrate ladders such as NFLX); on CRF sweeps the network's quality path is
monotone by design.

Lines come in a small family, fewest inputs first (``LINE_FAMILY``): with a dozen sources a line on
every live input can fit content statistics that identify sources rather than predict quality,
while the bits-per-pixel family a statistician tries first (the report's baseline) cannot. The
family members other than ``line`` see frame rate in the log domain, so log bits per pixel is a
direction in their inputs.
"""

from __future__ import annotations

import numpy as np
import torch

from trainer.core.features import LOG_MASK, N_FEATURES, QUALITY_INPUT
from trainer.learning.line_family import DIRECTIONS, FAMILY_LOG_MASK, LINE_CANDIDATE, LINES, LineInputs
from trainer.learning.model import HIDDEN, STD_FLOOR, MLPWeights, model_inputs
from trainer.learning.profiles import TrainingProfile

LINE_RIDGE_ALPHA = 1.0  # as the report's baseline: standardised inputs, unpenalised intercept
# Knots of the output map: VMAF 0.5 .. 99.5 (the training targets' own margin), evenly spaced in
# logit, so denser towards the ends where logit bends hardest. HIDDEN knots: one per layer-2 unit.
_KNOT_LOGITS = np.linspace(np.log(0.005 / 0.995), np.log(0.995 / 0.005), HIDDEN)
KNOTS = 100.0 / (1.0 + np.exp(-_KNOT_LOGITS))


def live_inputs(x: np.ndarray, observed: np.ndarray | None) -> np.ndarray:
    """[14] bool: inputs that vary over these rows (as the model sees them) and that some row
    measured, as model.fit decides."""
    live = (x.max(0) > x.min(0)) if x.shape[0] else np.zeros(N_FEATURES, dtype=bool)
    return live if observed is None else live & np.asarray(observed, dtype=bool)


def line_applies(features: np.ndarray, rows: np.ndarray, observed: np.ndarray | None) -> bool:
    """Whether the line may be offered for a model trained on ``rows``: its quality input is dead
    (quality is never a log input, so the raw column is what the model sees)."""
    return not bool(live_inputs(np.asarray(features)[rows], observed)[QUALITY_INPUT])


def line_log_mask(member: LineInputs, profile: TrainingProfile) -> np.ndarray:
    """[14] bool: the inputs this line sees in the log domain."""
    if member.directions is not None:
        return FAMILY_LOG_MASK
    return LOG_MASK if profile.log_inputs else np.zeros_like(LOG_MASK)


def fit_line(features: np.ndarray, target: np.ndarray, train_masks: np.ndarray, profile: TrainingProfile,
             observed: np.ndarray | None = None, name: str = LINE_CANDIDATE) -> MLPWeights:
    """One embedded ridge line (family member ``name``) per row of ``train_masks`` ([F, n] bool), as MLP weights.

    Parameters
    ----------
    features : ndarray of shape (n_rows, 14)
        Model inputs in contract order.
    target : ndarray of shape (n_rows,)
        Measured VMAF (0-100).
    train_masks : ndarray of shape (n_models, n_rows), bool
        The rows each line is fitted on (one row per fold).
    profile : TrainingProfile
        Decides which inputs the line sees in log scale.
    observed : ndarray of shape (14,) or (n_models, 14), bool, optional
        The inputs some row really measured; the others get zero weight.
    name : str
        The member of the line family (``LINES``) to fit.
    """
    member = LINES[name]
    masks = np.asarray(train_masks, dtype=bool)
    log_mask = line_log_mask(member, profile)
    x_all = model_inputs(torch.from_numpy(np.asarray(features, dtype=np.float64)), torch.from_numpy(log_mask)).numpy()
    models = [_embed(x_all[rows], np.asarray(target, dtype=np.float64)[rows], live_inputs(x_all[rows], observed),
                     member.directions) for rows in masks]
    stacked = [np.stack([m[i] for m in models]).astype(np.float32) for i in range(8)]
    return MLPWeights(np.repeat(log_mask[None, :], len(models), axis=0), *stacked)


def _logit_map() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Layer 2 and output weights that turn layer-1 unit 0, ``h = ReLU(L - t0)``, into ``logit(L/100)``.

    Piecewise linear through the knots, centred on the middle knot ``t_m``: units m..63 are hinges
    ``ReLU(L - t_k)`` above it, units 0..m-1 hinges ``ReLU(t_k - L)`` below it (knots 1..m). Only the
    hinges between ``t_m`` and ``L`` are active, so for any ``L`` a corpus produces the sum cancels
    no large terms, and float32 graphs that add in different orders (torch, onnxruntime) agree to
    far below 1e-4 VMAF. Above the last knot the weights sum to 0 and the terms grow with ``L``:
    for absurd inputs (``L`` beyond about 1e5, e.g. ``y_avg`` = 1e5 where 0..255 is real) float32
    loses the flat top, as any float32 graph loses digits there.
    """
    knots, logits = KNOTS, _KNOT_LOGITS
    slopes = np.diff(logits) / np.diff(knots)  # s_j of logit(L/100) on [t_j, t_j+1]
    middle = HIDDEN // 2
    w2 = np.zeros((HIDDEN, HIDDEN))
    b2 = np.zeros(HIDDEN)
    w3 = np.zeros((HIDDEN, 1))
    above = np.arange(middle, HIDDEN)  # knot k -> unit k
    w2[0, above] = 1.0
    b2[above] = -(knots[above] - knots[0])
    w3[above, 0] = np.diff(np.concatenate([[0.0], slopes[middle:], [0.0]]))  # flat above the last knot
    below = np.arange(1, middle + 1)  # knot k -> unit k - 1
    w2[0, below - 1] = -1.0
    b2[below - 1] = knots[below] - knots[0]
    falling = np.concatenate([slopes[: middle - 1] - slopes[1:middle], [slopes[middle - 1]]])  # s_(k-1) - s_k
    w3[below - 1, 0] = -falling
    return w2, b2, w3, np.array([logits[middle]])


def _embed(x: np.ndarray, y: np.ndarray, live: np.ndarray,
           directions: tuple[str, ...] | None) -> tuple[np.ndarray, ...]:
    """mean, std, w1, b1, w2, b2, w3, b3 of one model whose output is the ridge line ``L`` clipped."""
    mean = x.mean(0) if x.shape[0] else np.zeros(N_FEATURES)
    std = x.std(0) if x.shape[0] else np.ones(N_FEATURES)
    std = np.where(std < STD_FLOOR, 1.0, std)
    if live[QUALITY_INPUT]:
        raise ValueError("the line candidate needs a dead quality input (see line_applies)")
    intercept = float(y.mean()) if y.size else 50.0
    if directions is None:
        coef = _ridge((x - mean) / std * live, y - intercept) * live
    else:
        coef = _ridge_on_directions(x - mean, y - intercept, live, directions) * std
    w1 = np.zeros((N_FEATURES, HIDDEN))
    b1 = np.zeros(HIDDEN)
    w1[:, 0] = coef
    b1[0] = intercept - KNOTS[0]  # unit 0 = ReLU(L - t0)
    w2, b2, w3, b3 = _logit_map()
    return mean, std, w1, b1, w2, b2, w3, b3


def _ridge(xs: np.ndarray, y_centred: np.ndarray) -> np.ndarray:
    """Ridge coefficients of already standardised columns (intercept handled by the caller)."""
    gram = xs.T @ xs + LINE_RIDGE_ALPHA * np.eye(xs.shape[1])
    return np.linalg.solve(gram, xs.T @ y_centred)


def _ridge_on_directions(x_centred: np.ndarray, y_centred: np.ndarray, live: np.ndarray,
                         directions: tuple[str, ...]) -> np.ndarray:
    """Per-input coefficients (on centred inputs) of a ridge line on standardised derived features.

    Each direction keeps only its live inputs: an input constant in training must get no weight, or
    a value the harness sends later that training never varied would move the prediction.
    """
    basis = np.stack([DIRECTIONS[name] * live for name in directions], axis=1)  # [14, k]
    z = x_centred @ basis
    scale = z.std(0) if z.shape[0] else np.ones(basis.shape[1])
    varies = scale > STD_FLOOR
    scale = np.where(varies, scale, 1.0)
    coef_z = _ridge(z / scale * varies, y_centred) * varies
    return basis @ (coef_z / scale)
