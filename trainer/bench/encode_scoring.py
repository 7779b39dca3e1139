"""Score the harness's real picks against a real CRF sweep, from the record a run of the encode section writes.

Pure: everything here reads the record (a JSON dict), so the tests score a recorded run without ffmpeg or
the harness. The best CRF for a target is the report's oracle (crf_pick.oracle_quality: the largest CRF of
the sweep whose measured VMAF is >= the target); a pick is judged by the VMAF measured on its own encode.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from trainer.learning.crf_pick import MISS_MARGIN, oracle_quality

VARIANTS = {"published": "as published (0 kbps)", "measured": "with the measured probe bitrate"}
CURVE = "curve"  # the harness's analytical curve, Predictor() with no model


@dataclass(frozen=True)
class Case:
    clip: str
    predictor: str
    variant: str
    target: float
    best: int
    pick: int
    vmaf_at_pick: float
    kbps_at_pick: float
    kbps_at_best: float

    @property
    def steps(self) -> int:
        return abs(self.pick - self.best)

    @property
    def miss(self) -> bool:
        return self.vmaf_at_pick < self.target - MISS_MARGIN

    @property
    def overspend_pct(self) -> float:
        return (self.kbps_at_pick / self.kbps_at_best - 1.0) * 100.0


@dataclass(frozen=True)
class Summary:
    cases: int
    steps: float
    miss_pct: float
    overspend_pct: float

    def cell(self) -> str:
        return f"{self.steps:.2f} steps, {self.miss_pct:.0f} % misses, {self.overspend_pct:+.0f} % bitrate"


def encode_at(clip: dict, crf: int) -> dict:
    try:
        return clip["encodes"][str(crf)]
    except KeyError:
        raise ValueError(f"{clip['name']}: no encode at CRF {crf} in the record") from None


def best_crf(clip: dict, target: float) -> int | None:
    """The largest swept CRF whose measured VMAF is >= target; None outside the sweep's measured range."""
    crfs = np.asarray(sorted(clip["sweep"]), dtype=np.float64)
    vmaf = np.asarray([encode_at(clip, int(c))["vmaf"] for c in crfs], dtype=np.float64)
    best = oracle_quality(crfs, vmaf, target)
    return None if best is None else int(best)


def clip_cases(clip: dict, targets: Iterable[float]) -> tuple[list[Case], list[float]]:
    """Every (predictor, variant, target) case of one clip, and the targets its sweep cannot judge."""
    cases, unjudged = [], []
    for target in targets:
        best = best_crf(clip, target)
        if best is None:
            unjudged.append(target)
            continue
        at_best = encode_at(clip, best)
        for name, variants in clip["picks"].items():
            for variant, picks in variants.items():
                crf = int(picks[_key(target)])
                at_pick = encode_at(clip, crf)
                cases.append(Case(clip["name"], name, variant, target, best, crf, float(at_pick["vmaf"]),
                                  float(at_pick["kbps"]), float(at_best["kbps"])))
    return cases, unjudged


def all_cases(record: dict) -> tuple[list[Case], int]:
    cases, unjudged = [], 0
    for clip in record["clips"]:
        found, skipped = clip_cases(clip, record["targets"])
        cases += found
        unjudged += len(skipped)
    return cases, unjudged


def summarise(cases: list[Case]) -> dict[tuple[str, str], Summary]:
    groups: dict[tuple[str, str], list[Case]] = {}
    for case in cases:
        groups.setdefault((case.predictor, case.variant), []).append(case)
    return {key: Summary(len(group), float(np.mean([c.steps for c in group])),
                         100.0 * sum(c.miss for c in group) / len(group),
                         float(np.mean([c.overspend_pct for c in group])))
            for key, group in groups.items()}


def table_lines(record: dict) -> list[str]:
    """The Markdown table docs/benchmarks.md keeps, then one line per case."""
    cases, unjudged = all_cases(record)
    summaries = summarise(cases)
    names = list(dict.fromkeys(c.predictor for c in cases))
    lines = [f"| predictor | {' | '.join(VARIANTS.values())} |", "|---|" + "---|" * len(VARIANTS)]
    for name in names:
        cells = [summaries[(name, v)].cell() if (name, v) in summaries else "-" for v in VARIANTS]
        label = "the harness's curve" if name == CURVE else name
        lines.append(f"| {label} | {' | '.join(cells)} |")
    n_cases = summaries[(names[0], "published")].cases if names else 0
    lines.append(f"\n{n_cases} cases ({len(record['clips'])} clips x targets "
                 f"{', '.join(_key(t) for t in record['targets'])}); {unjudged} outside a sweep's measured range")
    lines.append(f"\n{'clip':<34} {'target':>6} {'best':>4}  picks (CRF / VMAF measured at it), "
                 f"{' | '.join(VARIANTS)}")
    for clip in record["clips"]:
        for target in record["targets"]:
            here = [c for c in cases if c.clip == clip["name"] and c.target == target]
            if not here:
                continue
            parts = []
            for name in names:
                picks = [f"{c.pick} / {c.vmaf_at_pick:.1f}" for v in VARIANTS for c in here
                         if c.predictor == name and c.variant == v]
                parts.append(f"{name}: {' | '.join(picks)}")
            lines.append(f"{clip['name']:<34} {_key(target):>6} {here[0].best:>4}  {'; '.join(parts)}")
    return lines


def _key(target: float) -> str:
    return f"{target:g}" if math.isfinite(target) else str(target)
