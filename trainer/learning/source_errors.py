"""The sources a fold model gets wrong: per held-out source bias and RMSE, and the outlier rule.

A source whose RMSE is more than ``OUTLIER_RMSE_RATIO`` times the median source's stands out:
either content of its kind is missing from training, or its targets are off. Which of the two the
numbers point to is said in plain words (``reading``), never guessed beyond what they show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OUTLIER_RMSE_RATIO = 2.0
# When the mean error is at least this share of the RMSE, the source is off in one direction.
BIAS_SHARE = 0.7


@dataclass(frozen=True)
class SourceError:
    src: str
    fold: int
    n_rows: int
    bias: float  # mean of prediction - measured VMAF: > 0 predicted too high
    rmse: float
    outlier: bool = False

    def reading(self) -> str | None:
        if not self.outlier:
            return None
        if abs(self.bias) >= BIAS_SHARE * self.rmse:
            side = "high" if self.bias > 0 else "low"
            return (f"predicted {abs(self.bias):.1f} VMAF too {side} on average: content of this kind is "
                    "under-represented in training, or its measured targets are offset (check how it was measured)")
        return (f"errors of {self.rmse:.1f} VMAF RMSE in both directions: this content behaves unlike the training "
                "sources; more sources like it would help")

    def as_report(self) -> dict[str, object]:
        return {"src": self.src, "fold": self.fold, "n_rows": self.n_rows, "bias": round(self.bias, 4),
                "rmse": round(self.rmse, 4), "outlier": self.outlier, "reading": self.reading()}


def source_errors(fold: int, sources: np.ndarray, pred: np.ndarray, truth: np.ndarray) -> list[SourceError]:
    """Bias and RMSE of each source among one fold's held-out rows (sorted by source name)."""
    errors = []
    diff = np.asarray(pred, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    for src in sorted(set(sources.tolist())):
        rows = sources == src
        errors.append(SourceError(src, fold, int(rows.sum()), float(diff[rows].mean()),
                                  float(np.sqrt((diff[rows] ** 2).mean()))))
    return errors


def mark_outliers(errors: list[SourceError]) -> list[SourceError]:
    """Flag sources whose RMSE exceeds twice the median source RMSE; ordered worst first."""
    if not errors:
        return []
    median = float(np.median([e.rmse for e in errors]))
    marked = [SourceError(e.src, e.fold, e.n_rows, e.bias, e.rmse, e.rmse > OUTLIER_RMSE_RATIO * median)
              for e in errors]
    return sorted(marked, key=lambda e: (-e.rmse, e.src))
