"""A generated bitrate-ladder corpus on which a straight line predicts unseen sources best.

VMAF is linear in log bits per pixel, each source is offset by a random amount no input explains,
and two content statistics are per-source constants a network can memorise sources by. There is
no quality column, so the embedded line is a candidate (learning.line_model).
"""

from __future__ import annotations

import numpy as np

LADDER = ((640, 360, 300), (960, 540, 800), (1280, 720, 1600), (1280, 720, 2600), (1920, 1080, 4000),
          (1920, 1080, 6500))


def line_rows(n_sources: int = 12, seed: int = 0, codec: str = "libx265", offset_sigma: float = 5.0,
              noise_sigma: float = 1.5) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sources):
        fps = float(rng.choice([24.0, 25.0, 30.0]))
        difficulty = rng.uniform(0.5, 2.0)  # the bitrate this content needs, relative to the ladder
        offset = rng.normal(0.0, offset_sigma)
        y_avg, frame_diff = rng.uniform(40, 200), rng.uniform(1, 30)
        for width, height, kbps in LADDER:
            kbps = kbps * rng.uniform(0.8, 1.25) * difficulty
            bits_per_pixel = kbps * 1000 / (width * height * fps)
            vmaf = 30 + 12 * np.log2(bits_per_pixel / 0.02) + offset + rng.normal(0.0, noise_sigma)
            rows.append({"encoder": codec, "exit_status": 0, "src": f"clip{s:02d}", "bitrate_kbps": round(kbps, 2),
                         "framerate": fps, "width": width, "height": height, "y_avg": round(y_avg, 3),
                         "frame_diff_mean": round(frame_diff, 3), "duration_s": 10.0,
                         "vmaf_score": round(float(np.clip(vmaf, 0, 100)), 3)})
    return rows
