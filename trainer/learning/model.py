"""The predictor: MLP 14->64->64->1, ReLU, 100*sigmoid, log inputs and normalisation baked in.

Several models (one per LOSO fold) train side by side as one batched network: the per-step
overhead, not arithmetic, dominates at this size, so five folds cost little more than one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from trainer.core.features import LOG_FLOOR, LOG_MASK, N_FEATURES, QUALITY_INPUT
from trainer.learning.adam import FusedAdam
from trainer.learning.profiles import TrainingProfile

HIDDEN = 64
STD_FLOOR = 1e-6
# VMAF saturates at 100 (and can sit at 0). Under MSE through 100*sigmoid such a target pulls
# the logit towards infinity, and Adam, which normalises away the vanishing gradient, keeps
# stepping until a whole fold's network is saturated and predicts a constant. Training targets
# are therefore held this far inside the range; metrics always use the true targets.
TARGET_MARGIN = 0.5
# Hidden units per layer that decrease and that increase with quality where it is live (weight_bounds);
# the rest are blind to it.
QUALITY_SPLIT = (24, 24)
# Decreasing units only, half the layer: the construction before issue #29 (logit convex in quality),
# kept for the content-blind curve.
CONVEX_SPLIT = (HIDDEN // 2, 0)


class TrainingDiverged(ArithmeticError):
    """The loss or a weight stopped being finite: the codec is an error, never a silent NaN model."""


@dataclass
class MLPWeights:
    """Weights of F independent models; index 0..F-1 along the first axis of every array."""

    log_mask: np.ndarray  # bool [F, 14]: inputs the model sees as log(max(x, LOG_FLOOR))
    mean: np.ndarray  # [F, 14], of the (log-)inputs
    std: np.ndarray  # [F, 14]
    w1: np.ndarray  # [F, 14, 64]
    b1: np.ndarray  # [F, 64]
    w2: np.ndarray  # [F, 64, 64]
    b2: np.ndarray  # [F, 64]
    w3: np.ndarray  # [F, 64, 1]
    b3: np.ndarray  # [F, 1]

    def select(self, index: int) -> MLPWeights:
        return self.take([index])

    def take(self, indices: Sequence[int]) -> MLPWeights:
        """These models only, in this order."""
        return MLPWeights(*(getattr(self, f)[list(indices)] for f in self.__dataclass_fields__))


def _init_layer(n_models: int, fan_in: int, fan_out: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    bound = 1.0 / math.sqrt(fan_in)  # the same range torch.nn.Linear draws from
    w = (torch.rand(n_models, fan_in, fan_out, generator=gen) * 2 - 1) * bound
    b = (torch.rand(n_models, 1, fan_out, generator=gen) * 2 - 1) * bound
    return w.requires_grad_(), b.requires_grad_()


def model_inputs(x: torch.Tensor, log_mask: torch.Tensor) -> torch.Tensor:
    """Raw inputs [.., n, 14] as the network sees them: size-like columns in the log domain."""
    return torch.where(log_mask, torch.log(torch.clamp(x, min=LOG_FLOOR)), x)


def _forward(params: list[torch.Tensor], xn: torch.Tensor) -> torch.Tensor:
    w1, b1, w2, b2, w3, b3 = params
    h = torch.relu(torch.baddbmm(b1, xn, w1))
    h = torch.relu(torch.baddbmm(b2, h, w2))
    return 100.0 * torch.sigmoid(torch.baddbmm(b3, h, w3)).squeeze(-1)


def fit(
    features: np.ndarray,
    target: np.ndarray,
    train_masks: np.ndarray,
    profile: TrainingProfile,
    seed: int | Sequence[int],
    observed: np.ndarray | None = None,
    shrinks: Sequence[float] | None = None,
    monotone: bool = True,
    convex: Sequence[bool] | None = None,
) -> MLPWeights:
    """Train one model per row of ``train_masks`` ([F, n] bool) with Adam on MSE.

    ``observed`` ([14] bool, or [F, 14]: one per model) names the inputs some row really measured.
    Those, when they vary over a model's training rows, are its live inputs; every other input gets
    exactly zero weight.
    With the quality input live, the model is monotone (non-increasing) in it by construction
    (``monotone=False`` drops that constraint: only to measure what it costs).
    ``shrinks`` gives each model its own weight-decay strength (default: the profile's), so
    candidates of a model choice train side by side in one batched network. ``convex`` (one flag per
    model) gives a model decreasing quality units only (``CONVEX_SPLIT``): the content-blind curve's
    simpler shape class (see ``weight_bounds``).

    ``seed``: one int gives every model a share of one random stream (initial weights drawn model after
    model, one row order for all), and a lone model steps through its own training rows only (the
    reference trainer's way). One seed per model gives each model its own stream for its weights and its
    row order over the whole table (rows outside its mask weigh 0): a model is then the same whether it
    trains alone or beside others, so how a codec's folds are split into tasks changes no result.

    Parameters
    ----------
    features : ndarray of shape (n_rows, 14)
        Model inputs in contract order (cast to float32).
    target : ndarray of shape (n_rows,)
        Measured VMAF (0-100).
    train_masks : ndarray of shape (n_models, n_rows), bool
        The rows each model trains on.
    profile : TrainingProfile
        Epochs, batch size, learning rate, weight decay (``shrink``) and which inputs are log-scaled.
    seed : int or sequence of n_models ints
        One stream for all models, or one per model (see above).
    observed : ndarray of shape (14,) or (n_models, 14), bool, optional
        The inputs some row really measured; None: all of them.
    shrinks : sequence of n_models floats, optional
        Each model's weight-decay strength; None: the profile's for all.
    monotone : bool
        Whether the prediction may only fall as the quality input rises.
    convex : sequence of n_models bools, optional
        Which models get decreasing quality units only.
    """
    per_model = not isinstance(seed, int)
    seeds = [seed] if isinstance(seed, int) else [int(s) for s in seed]
    torch.manual_seed(seeds[0])
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    x_all = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    y_all = torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32))
    masks = torch.from_numpy(np.asarray(train_masks, dtype=bool))
    n_models = masks.shape[0]
    if per_model and len(seeds) != n_models:
        raise ValueError(f"{len(seeds)} seeds for {n_models} models")
    if n_models == 1 and not per_model:
        # One model: iterate over its own rows only, exactly like a per-fold trainer.
        keep = masks[0]
        x_all, y_all = x_all[keep], y_all[keep]
        masks = torch.ones(1, x_all.shape[0], dtype=torch.bool)
    log_mask = torch.from_numpy(LOG_MASK if profile.log_inputs else np.zeros_like(LOG_MASK))
    x_all = model_inputs(x_all, log_mask)
    weight = masks.to(torch.float32)
    counts = weight.sum(1, keepdim=True).clamp(min=1.0)
    # Per model, so a model's normalisation does not depend on how many others share the batch.
    squares = x_all * x_all
    mean = torch.cat([weight[f : f + 1] @ x_all for f in range(n_models)]) / counts
    var = torch.cat([weight[f : f + 1] @ squares for f in range(n_models)]) / counts - mean * mean
    std = var.clamp(min=0.0).sqrt()
    std = torch.where(std < STD_FLOOR, torch.ones_like(std), std)
    xn_all = (x_all.unsqueeze(0) - mean.unsqueeze(1)) / std.unsqueeze(1)  # [F, n, 14]

    y_all = y_all.clamp(TARGET_MARGIN, 100.0 - TARGET_MARGIN)
    params = _init_params(n_models, gens)
    live = torch.stack([_varies(x_all[rows]) for rows in masks])
    if observed is not None:
        live &= torch.from_numpy(np.asarray(observed, dtype=bool))
    bounds = weight_bounds(live, monotone, None if convex is None else torch.tensor(list(convex), dtype=torch.bool))
    project_weights(params, bounds)
    loss_weight = weight * _row_weights(y_all, live[:, QUALITY_INPUT], profile)
    with torch.no_grad():
        # Start each model at its training mean instead of 50: the first steps fit shape, not level.
        mean_target = torch.cat([weight[f : f + 1] @ y_all for f in range(n_models)]) / counts[:, 0]
        params[5].copy_(torch.logit(mean_target / 100.0).view(n_models, 1, 1))
    n_rows = x_all.shape[0]
    batch_size, learning_rate = profile.batch_and_lr(n_rows)
    steps_per_epoch = max(1, math.ceil(n_rows / batch_size))
    epochs = profile.epochs_for(n_rows)
    total_steps = steps_per_epoch * epochs
    schedule = [_learning_rate(profile, learning_rate, step, total_steps) for step in range(total_steps)]
    optimiser = _optimiser(params, profile, learning_rate)
    shrink_factors = _per_step_shrink(schedule, [profile.shrink] * n_models if shrinks is None else list(shrinks))
    decayed = params[0::2]  # the weight matrices; biases carry the level, not the shape
    step = 0
    model_index = torch.arange(n_models).unsqueeze(1)
    for _epoch in range(epochs):
        orders = _row_orders(n_rows, n_models, gens)
        for start in range(0, n_rows, batch_size):
            idx = orders[:, start : start + batch_size]  # [F, b]: each model's rows of this step
            wb = loss_weight[model_index, idx]
            pred = _forward(params, xn_all[model_index, idx])
            err = (pred - y_all[idx]) ** 2
            # Divided by the model's row count in the batch, not its weight sum: a batch that happens to
            # hold only down-weighted rows must not give them full weight.
            loss = ((err * wb).sum(1) / weight[model_index, idx].sum(1).clamp(min=1.0)).sum()
            if profile.cosine_decay:
                for group in optimiser.param_groups:
                    group["lr"] = schedule[step]
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            if shrink_factors is not None:  # decoupled decay, before the Adam update (as AdamW orders it)
                with torch.no_grad():
                    for matrix in decayed:
                        matrix.mul_(shrink_factors[step])
            optimiser.step()
            project_weights(params, bounds)
            step += 1
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"training loss became {loss.item()} in epoch {_epoch + 1}/{epochs}")
    if not all(bool(torch.isfinite(p).all()) for p in params):
        raise TrainingDiverged("a trained weight is not finite")

    w1, b1, w2, b2, w3, b3 = (p.detach().numpy().copy() for p in params)
    return MLPWeights(
        log_mask=log_mask.numpy()[None, :].repeat(n_models, axis=0),
        mean=mean.numpy(),
        std=std.numpy(),
        w1=w1,
        b1=b1[:, 0, :],
        w2=w2,
        b2=b2[:, 0, :],
        w3=w3,
        b3=b3[:, 0, :],
    )


def _init_params(n_models: int, gens: list[torch.Generator]) -> list[torch.Tensor]:
    """Initial weights of every model: from the one shared stream in model order, or each from its own."""
    if len(gens) == 1:
        return [*_init_layer(n_models, N_FEATURES, HIDDEN, gens[0]), *_init_layer(n_models, HIDDEN, HIDDEN, gens[0]),
                *_init_layer(n_models, HIDDEN, 1, gens[0])]
    per_model = [_init_params(1, [gen]) for gen in gens]
    return [torch.cat([model[k] for model in per_model]).detach().requires_grad_() for k in range(6)]


def _row_orders(n_rows: int, n_models: int, gens: list[torch.Generator]) -> torch.Tensor:
    """``[F, n]`` this epoch's row order of each model: one shared order, or each model's own."""
    if len(gens) == 1:
        return torch.randperm(n_rows, generator=gens[0]).unsqueeze(0).expand(n_models, -1)
    return torch.stack([torch.randperm(n_rows, generator=gen) for gen in gens])


def _row_weights(target: torch.Tensor, quality_live: torch.Tensor, profile: TrainingProfile) -> torch.Tensor:
    """``[F, n]`` loss weight of each row: rows far below the harness's targets count
    ``profile.low_quality_weight``, in models that have a live quality input (the ones the harness
    searches CRF with; a model without one answers no CRF search, so its rows all count alike)."""
    low = torch.where(target < profile.low_quality_below, profile.low_quality_weight, 1.0)
    return torch.where(quality_live.unsqueeze(1), low.unsqueeze(0), torch.ones_like(low).unsqueeze(0))


def _varies(x: torch.Tensor) -> torch.Tensor:
    """Per column, whether it takes more than one value over these rows ([14] bool)."""
    if x.shape[0] == 0:
        return torch.zeros(x.shape[1], dtype=torch.bool)
    return x.amax(0) > x.amin(0)


def weight_bounds(live: torch.Tensor, monotone: bool = True,
                  convex: torch.Tensor | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per-weight [low, high] for F models from their live inputs ([F, 14] bool).

    A dead input's first-layer weights are pinned to 0. Where the quality input (column 0) is live
    (and ``monotone``, which only measurements turn off), every hidden unit has a direction in
    quality: decreasing (D), increasing (I) or blind (B), ``QUALITY_SPLIT`` units of each per layer,
    and the output is decreasing. A weight from a directed unit into a directed one must carry the
    sign that keeps the direction (D->D and I->I >= 0, D->I and I->D <= 0); a weight from a directed
    unit into a blind one is 0; blind units and the other inputs feed anything freely. Quality
    itself counts as increasing. ReLU and sigmoid are non-decreasing, so each unit keeps its
    direction and the prediction can never rise with quality, for any inputs, inside or outside the
    training range. Unlike a construction with decreasing units alone (whose logit is a sum of
    convex decreasing functions, so convex in quality), I units entering D units with negative
    weights give concave pieces too: a curve that flattens towards its ceiling can be fitted.
    Models flagged in ``convex`` ([F] bool) keep the older, narrower class: decreasing units only
    (``CONVEX_SPLIT``), a logit convex in quality, which the content-blind curve uses (the simplest
    candidate of a model choice keeps the simplest shape).
    """
    n_models = live.shape[0]
    layers = [(N_FEATURES, HIDDEN), (HIDDEN, HIDDEN), (HIDDEN, 1)]
    bounds = [(torch.full((n_models, i, o), -math.inf), torch.full((n_models, i, o), math.inf)) for i, o in layers]
    if monotone:
        quality = torch.zeros(N_FEATURES)
        quality[QUALITY_INPUT] = 1.0
        searched = live[:, QUALITY_INPUT].view(n_models, 1, 1)
        narrow = (torch.zeros(n_models, dtype=torch.bool) if convex is None else convex).view(-1, 1, 1)
        for split, models in ((None, searched & ~narrow), (CONVEX_SPLIT, searched & narrow)):
            hidden = unit_directions(split)
            directions = [quality, hidden, hidden, torch.tensor([-1.0])]
            for k, (low, high) in enumerate(bounds):
                sign_low, sign_high = _direction_bounds(directions[k], directions[k + 1])
                low.copy_(torch.where(models, sign_low, low))
                high.copy_(torch.where(models, sign_high, high))
    low1, high1 = bounds[0]
    dead = ~live
    low1[dead] = 0.0
    high1[dead] = 0.0
    return bounds


def unit_directions(split: tuple[int, int] | None = None) -> torch.Tensor:
    """[HIDDEN] direction in quality of each hidden unit: -1 (D) first, then +1 (I), then 0 (B)."""
    decreasing, increasing = QUALITY_SPLIT if split is None else split
    directions = torch.zeros(HIDDEN)
    directions[:decreasing] = -1.0
    directions[decreasing : decreasing + increasing] = 1.0
    return directions


def _direction_bounds(into: torch.Tensor, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[in, out] bounds of the weights from units of directions ``into`` to units of directions ``out``."""
    need = into.view(-1, 1) * out.view(1, -1)  # +1: the weight must be >= 0, -1: <= 0, 0: no sign needed
    low = torch.where(need > 0, 0.0, -math.inf)
    high = torch.where(need < 0, 0.0, math.inf)
    pinned = (into.view(-1, 1) != 0) & (out.view(1, -1) == 0)  # a blind unit never sees quality
    return low.masked_fill(pinned, 0.0), high.masked_fill(pinned, 0.0)


def project_weights(params: list[torch.Tensor], bounds: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Put the weight matrices back inside their bounds (after init and after every optimiser step)."""
    with torch.no_grad():
        for weight, (low, high) in zip(params[0::2], bounds, strict=True):
            weight.clamp_(low, high)  # max then min in one pass (low <= high everywhere)


def _learning_rate(profile: TrainingProfile, base: float, step: int, total_steps: int) -> float:
    if not profile.cosine_decay:
        return base
    return 0.5 * base * (1.0 + math.cos(math.pi * step / total_steps))


def decay_factors(schedule: list[float], shrink: float) -> list[float]:
    """Per-step factors for the weight matrices that multiply to exactly e^-shrink over the run.

    Step t scales them by e^(-shrink * lr_t / sum(lr)): each factor lies in (0, 1], so decay alone
    never flips a weight's sign, however few the steps. (AdamW's 1 - lr_t * wd with
    wd = shrink / sum(lr) only approximates this, and goes negative at --epochs 1..3.)
    Empty when there is no decay.
    """
    total = sum(schedule)
    if shrink <= 0 or total <= 0:
        return []
    return [math.exp(-shrink * lr / total) for lr in schedule]


def _per_step_shrink(schedule: list[float], shrinks: list[float]) -> list[float] | torch.Tensor | None:
    """Decay factors per step: plain numbers when every model shares one strength, else [steps, F, 1, 1]."""
    if len(set(shrinks)) == 1:
        return decay_factors(schedule, shrinks[0]) or None
    per_model = [decay_factors(schedule, s) or [1.0] * len(schedule) for s in shrinks]
    return torch.tensor(per_model, dtype=torch.float32).T.reshape(len(schedule), len(shrinks), 1, 1)


def _optimiser(params: list[torch.Tensor], profile: TrainingProfile,
               learning_rate: float) -> FusedAdam | torch.optim.Adam:
    """Adam on every parameter; the weight decay is applied by ``fit`` (``decay_factors``)."""
    if profile.fused_adam:
        return FusedAdam(params, learning_rate)
    return torch.optim.Adam(params, lr=learning_rate)


def predictor(weights: MLPWeights, index: int) -> Callable[[np.ndarray], np.ndarray]:
    """Model ``index`` of ``weights`` alone, as a function of feature rows (what the quality-pick sweeps call)."""
    return lambda x: predict(weights.select(index), x)[0]


# Rows per forward pass in ``predict``: F models hold 2 x 64 activations per row each, so a million-row table in
# one pass would cost gigabytes (issue #36); a chunk keeps it at tens of MB.
PREDICT_CHUNK_ROWS = 65_536


def predict(weights: MLPWeights, features: np.ndarray) -> np.ndarray:
    """Torch forward pass of every model on the same rows: ``[F, n]`` float32, a chunk of rows at a time."""
    features = np.asarray(features, dtype=np.float32)
    if features.shape[0] <= PREDICT_CHUNK_ROWS:
        return _predict_rows(weights, features)
    return np.concatenate([_predict_rows(weights, features[start:start + PREDICT_CHUNK_ROWS])
                           for start in range(0, features.shape[0], PREDICT_CHUNK_ROWS)], axis=1)


def _predict_rows(weights: MLPWeights, features: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
        x = model_inputs(x.unsqueeze(0), torch.from_numpy(weights.log_mask).unsqueeze(1))
        mean = torch.from_numpy(weights.mean).unsqueeze(1)
        std = torch.from_numpy(weights.std).unsqueeze(1)
        xn = (x - mean) / std
        params = [
            torch.from_numpy(weights.w1),
            torch.from_numpy(weights.b1).unsqueeze(1),
            torch.from_numpy(weights.w2),
            torch.from_numpy(weights.b2).unsqueeze(1),
            torch.from_numpy(weights.w3),
            torch.from_numpy(weights.b3).unsqueeze(1),
        ]
        return _forward(params, xn).numpy()
