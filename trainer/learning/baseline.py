"""The linear baseline every trained codec is compared with, on exactly the same folds.

Ridge regression (alpha 1, standardised inputs) on the features a statistician would try first:
log bitrate, log bits per pixel, log height, frame rate, and the quality knob (CRF/CQ/QP) where
the corpus has one (a constant column drops out of a standardised ridge fit, so bitrate ladders
without a quality column get exactly the four-feature fit). It costs microseconds; a network that
cannot beat it on unseen sources has not earned its keep, and the report and console say so.
Closed-form numpy, so fold workers need no scikit-learn import (tests check it equals sklearn's).
"""

from __future__ import annotations

import numpy as np

from trainer.core.features import FEATURE_NAMES

BASELINE_KIND = "ridge(alpha=1) on standardised [log kbps, log bits-per-pixel, log height, fps, quality]"
RIDGE_ALPHA = 1.0
_COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}


def baseline_features(features: np.ndarray) -> np.ndarray:
    """The baseline inputs from the 14 model inputs (floors keep absent values finite)."""
    x = np.asarray(features, dtype=np.float64)
    kbps = np.maximum(x[:, _COLUMN["probe_bitrate_kbps"]], 1e-3)
    width = np.maximum(x[:, _COLUMN["width"]], 1.0)
    height = np.maximum(x[:, _COLUMN["height"]], 1.0)
    fps = x[:, _COLUMN["fps"]]
    bits_per_pixel = kbps * 1000.0 / (width * height * np.maximum(fps, 1e-3))
    return np.column_stack([np.log(kbps), np.log(bits_per_pixel), np.log(height), fps, x[:, _COLUMN["crf"]]])


def fit_predict_ridge(x_train: np.ndarray, y_train: np.ndarray, x_eval: np.ndarray,
                      alpha: float = RIDGE_ALPHA) -> np.ndarray:
    """StandardScaler + Ridge with an unpenalised intercept, as scikit-learn computes them."""
    mean = x_train.mean(axis=0)
    scale = x_train.std(axis=0)
    scale[scale < 10 * np.finfo(np.float64).eps] = 1.0  # a constant column contributes nothing
    xs = (x_train - mean) / scale
    y_mean = float(np.mean(y_train))
    gram = xs.T @ xs + alpha * np.eye(xs.shape[1])
    coef = np.linalg.solve(gram, xs.T @ (np.asarray(y_train, dtype=np.float64) - y_mean))
    return ((x_eval - mean) / scale) @ coef + y_mean


def baseline_predictions(features: np.ndarray, target: np.ndarray, held_out: np.ndarray) -> np.ndarray:
    """``[F, n]`` predictions: fold ``k``'s ridge fitted on its training rows, applied to every row."""
    x = baseline_features(features)
    y = np.asarray(target, dtype=np.float64)
    return np.stack([fit_predict_ridge(x[~mask], y[~mask], x) for mask in np.asarray(held_out, dtype=bool)])
