"""Saturating learning curves: fit, where they cross a bound, and a range from resampled draws.

The curve is the inverse power law of learning-curve studies, ``y(n) = c - a * n**-b`` with
``a >= 0`` (more data never hurts on average) and ``c <= cap`` (a PLCC ceiling is at most 1; a
spread is fitted as ``-spread`` with a floor of at least 0). For a fixed exponent ``b`` the model
is linear in ``(c, a)``, so the fit scans ``b`` on a fixed grid and solves least squares at each:
deterministic, no optimiser to start or to fail, and exact for the constraints.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EXPONENTS = tuple(float(b) for b in np.round(np.geomspace(0.1, 4.0, 60), 6))
MIN_POINTS = 3  # distinct sizes a three-parameter curve needs
MAX_RESAMPLES = 400
RANGE_QUANTILES = (0.1, 0.9)


@dataclass(frozen=True)
class Curve:
    """``y(n) = ceiling - scale * n**-exponent``; ``scale == 0`` is a flat curve."""

    ceiling: float
    scale: float
    exponent: float
    sse: float

    def at(self, n: float) -> float:
        return self.ceiling - self.scale * n ** -self.exponent

    def crossing(self, bound: float) -> float:
        """Smallest n (>= 1) where the curve reaches ``bound``: inf when it never does."""
        if self.at(1.0) >= bound:
            return 1.0
        if self.ceiling <= bound or self.scale <= 0:
            return math.inf
        return float((self.scale / (self.ceiling - bound)) ** (1.0 / self.exponent))


def fit_curves(n: Sequence[float], ys: np.ndarray, cap: float) -> list[Curve]:
    """The least-squares saturating curve through each row of ``ys`` ([curves, points]) at sizes ``n``.

    Every exponent of the grid is solved at once in closed form (a line in ``x = n**-b``); ties in
    the error go to the smaller exponent.
    """
    n_arr = np.asarray(n, dtype=np.float64)
    y = np.atleast_2d(np.asarray(ys, dtype=np.float64))[:, None, :]  # [curves, 1, points]
    if n_arr.size == 0 or not np.all(np.isfinite(y)) or np.any(n_arr <= 0):
        raise ValueError("a curve needs finite values at positive sizes")
    x = n_arr[None, :] ** -np.asarray(EXPONENTS)[:, None]  # [exponents, points]
    x_mean, y_mean = x.mean(-1), y.mean(-1)  # [B], [R, 1]
    x_var = ((x - x_mean[:, None]) ** 2).sum(-1)  # [B]
    slope = ((x - x_mean[:, None]) * (y - y_mean[..., None])).sum(-1) / np.where(x_var > 0, x_var, 1.0)
    scale = np.maximum(-slope, 0.0)  # a falling curve (slope > 0 in x) becomes flat at the mean
    ceiling = np.where(-slope > 0, y_mean - slope * x_mean, y_mean)
    over = ceiling > cap  # pin the ceiling at its cap; then only the scale is free
    pinned_scale = np.maximum(0.0, ((cap - y) * x).sum(-1) / (x * x).sum(-1))
    scale = np.where(over, pinned_scale, scale)
    ceiling = np.where(over, cap, ceiling)
    sse = ((ceiling[..., None] - scale[..., None] * x - y) ** 2).sum(-1)  # [R, B]
    best = sse.argmin(-1)
    rows = np.arange(sse.shape[0])
    return [Curve(float(ceiling[r, b]), float(scale[r, b]), EXPONENTS[b], float(sse[r, b]))
            for r, b in zip(rows, best, strict=True)]


def fit_curve(n: Sequence[float], y: Sequence[float], cap: float) -> Curve:
    """Least-squares saturating curve through the points (n > 0)."""
    return fit_curves(n, np.asarray(y, dtype=np.float64)[None, :], cap)[0]


@dataclass(frozen=True)
class Estimate:
    """A point estimate and the range the resampled draws give (None: no finite value there)."""

    estimate: float | None
    low: float | None
    high: float | None

    def as_report(self, digits: int | None = None) -> dict[str, float | int | None]:
        def shown(v: float | None) -> float | int | None:
            if v is None:
                return None
            return round(v, digits) if digits is not None else int(math.ceil(v - 1e-9))

        return {"estimate": shown(self.estimate), "low": shown(self.low), "high": shown(self.high)}


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def estimate_from(point: float, resampled: Sequence[float]) -> Estimate:
    """The point and the 10th-90th percentile of the resampled values (inf counts as never)."""
    values = np.sort(np.asarray(resampled, dtype=np.float64))
    if values.size == 0:
        return Estimate(_finite(point), None, None)
    low, high = (values[min(values.size - 1, int(math.floor(q * (values.size - 1) + 0.5)))] for q in RANGE_QUANTILES)
    return Estimate(_finite(point), _finite(low), _finite(high))


def resamples(draws_per_size: Sequence[int], seed: int) -> list[tuple[int, ...]]:
    """Which draw each size takes in each resample: every combination when few, else seeded picks."""
    total = math.prod(draws_per_size)
    if total <= MAX_RESAMPLES:
        return list(itertools.product(*(range(d) for d in draws_per_size)))
    rng = np.random.default_rng(seed)
    return [tuple(int(rng.integers(d)) for d in draws_per_size) for _ in range(MAX_RESAMPLES)]


@dataclass(frozen=True)
class CurveFit:
    """One quantity's curve over sizes: the fit through the per-size means and resampled fits."""

    point: Curve
    samples: tuple[Curve, ...]

    def crossing(self, bound: float) -> Estimate:
        return estimate_from(self.point.crossing(bound), [c.crossing(bound) for c in self.samples])

    def ceiling(self) -> Estimate:
        return estimate_from(self.point.ceiling, [c.ceiling for c in self.samples])


def fit_with_range(sizes: Sequence[float], draws: Sequence[Sequence[float]], cap: float, seed: int) -> CurveFit:
    """Fit through the mean of each size's draws; refit on resamples that take one draw per size.

    The spread of the refits is what the draws (different random subsets of sources) say about
    how sure the curve is: three points fitted once would give one confident, unfounded number.
    """
    means = [float(np.mean(d)) for d in draws]
    point = fit_curve(sizes, means, cap)
    picks = resamples([len(d) for d in draws], seed)
    samples = tuple(fit_curves(sizes, np.array([[draws[i][j] for i, j in enumerate(pick)] for pick in picks]), cap))
    return CurveFit(point, samples)
