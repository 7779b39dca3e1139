"""The fused Adam kernel stepped directly trains exactly what torch.optim.Adam(fused=True) trains."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch

from trainer.learning import model
from trainer.learning.profiles import DEFAULT_PROFILE


def _corpus(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = np.zeros((90, 14), dtype=np.float32)
    features[:, 0] = rng.uniform(18, 45, 90)
    features[:, 1] = np.exp(rng.uniform(np.log(300), np.log(9000), 90))
    features[:, 11], features[:, 12], features[:, 13] = 24.0, 1920.0, 1080.0
    target = (100 - 1.8 * (features[:, 0] - 18) + 4 * np.log(features[:, 1] / 300) + rng.normal(0, 1, 90))
    return features, target.clip(0, 100).astype(np.float32)


@pytest.mark.usefixtures("one_torch_thread")
def test_a_whole_training_run_is_bit_identical_to_torchs_fused_adam(monkeypatch):
    features, target = _corpus()
    masks = np.stack([np.arange(90) % 3 != k for k in range(3)])  # three models side by side, as folds train
    profile = dataclasses.replace(DEFAULT_PROFILE, epochs=15)
    ours = model.fit(features, target, masks, profile, seed=3)
    monkeypatch.setattr(model, "_optimiser", lambda params, _profile, lr: torch.optim.Adam(params, lr=lr, fused=True))
    torchs = model.fit(features, target, masks, profile, seed=3)
    for field in ("w1", "b1", "w2", "b2", "w3", "b3"):
        np.testing.assert_array_equal(getattr(ours, field), getattr(torchs, field))


def test_training_with_the_default_profile_never_imports_torch_dynamo():
    """The import this module exists to avoid: about 1.3 s in every worker process."""
    code = ("import sys, numpy as np, dataclasses; from trainer.learning import model; "
            "from trainer.learning.profiles import DEFAULT_PROFILE as P; "
            "x = np.ones((8, 14), np.float32); x[:, 1] = np.arange(8) + 1; "
            "model.fit(x, np.linspace(20, 90, 8, dtype=np.float32), np.ones((1, 8), bool), "
            "dataclasses.replace(P, epochs=2), 0); print('torch._dynamo' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "False"
