"""JUnit XML from a finished report: one test case per selected codec, for CI test-report views.

GitHub, GitLab and Jenkins all read the common subset used here: a <testsuites> root holding one
<testsuite> (name, tests, failures, errors, skipped, time, timestamp) whose <testcase> elements
carry name, classname and time, with <failure message=...> or <error message=...> inside.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from trainer.core.gate import GATE_ADR
from trainer.core.sections import entries, section
from trainer.outputs.advice_text import advice_lines
from trainer.outputs.calibration_text import calibration_line
from trainer.outputs.describe import (
    HARNESS_PROBE_LABEL,
    ZERO_KBPS_LABEL,
    describe_crf_pick,
    describe_harness_curve,
    probe_assumed,
)

SUITE_NAME = f"VMAF predictor {GATE_ADR} gate (5-fold LOSO)"
FAILED_STATUSES = ("fail", "insufficient-sources", "missing-rows")


def _case_detail(codec: Mapping[str, Any]) -> str:
    lines = [f"status: {codec['status']}", *(f"- {reason}" for reason in codec["failure_reasons"])]
    for fold in entries(codec, "folds"):
        plcc = fold["plcc"]
        lines.append(f"fold {fold['fold_index']}: PLCC {'undefined' if plcc is None else f'{plcc:.4f}'} "
                     f"(n_train={fold['n_train']}, n_val={fold['n_val']})"
                     + describe_crf_pick(fold.get("crf_pick"), "; ")
                     + describe_crf_pick(fold.get("crf_pick_harness_probe"), "; ", HARNESS_PROBE_LABEL))
    baseline = codec.get("baseline")
    if isinstance(baseline, Mapping) and baseline.get("mean_plcc") is not None:
        lines.append(f"linear baseline mean PLCC {baseline['mean_plcc']:.4f}")
    lines += advice_lines(codec.get("advice"))
    return "\n".join(lines)


def _harness_use(codec: Mapping[str, Any], harness: Mapping[str, object]) -> str:
    """How the codec's models pick quality as the harness uses them (shown for every verdict)."""
    probe = probe_assumed(str(codec["codec"]), harness)
    lines = [f"probe: {probe}"] if probe else []
    pick = codec.get("crf_pick")
    lines.append(describe_crf_pick(pick, "").strip() if pick else
                 "crf pick: - (no held-out quality ladder with >= 3 points)")
    as_probed = codec.get("crf_pick_harness_probe")
    if as_probed:
        lines.append(describe_crf_pick(as_probed, "", HARNESS_PROBE_LABEL).strip())
    at_zero = codec.get("crf_pick_harness_probe_0kbps")
    if at_zero:
        lines.append(describe_crf_pick(at_zero, "", ZERO_KBPS_LABEL).strip())
    lines += describe_harness_curve(codec.get("harness_curve"))
    calibration = calibration_line(codec.get("calibration"), codec.get("incumbent"))
    if calibration:
        lines.append(calibration)
    return "\n".join(lines)


def junit_xml(report: Mapping[str, object]) -> str:
    codecs = entries(report, "codecs")
    failures = sum(1 for c in codecs if c["status"] in FAILED_STATUSES)
    errors = sum(1 for c in codecs if c["status"] == "error")
    total_time = sum(float(c.get("training_seconds") or 0.0) for c in codecs)
    root = ET.Element("testsuites", name="vmaf-predictor", tests=str(len(codecs)), failures=str(failures),
                      errors=str(errors), time=f"{total_time:.3f}")
    suite = ET.SubElement(root, "testsuite", name=SUITE_NAME, tests=str(len(codecs)), failures=str(failures),
                          errors=str(errors), skipped="0", time=f"{total_time:.3f}",
                          timestamp=str(report.get("generated_at_utc", "")).removesuffix("Z"))
    properties = ET.SubElement(suite, "properties")
    profile, summary = section(report, "profile"), section(report, "summary")
    args = section(report, "run_provenance", "args")
    for name, value in (("profile", profile.get("name")), ("seed", args.get("seed")),
                        ("interrupted_by", summary.get("interrupted_by")), ("error", summary.get("error"))):
        if value is not None:
            ET.SubElement(properties, "property", name=name, value=str(value))
    harness = section(report, "harness")
    for codec in codecs:
        case = ET.SubElement(suite, "testcase", name=str(codec["codec"]), classname="vmaf_predictor.gate",
                             time=f"{float(codec.get('training_seconds') or 0.0):.3f}")
        reasons = "; ".join(codec["failure_reasons"]) or str(codec["status"])
        use = _harness_use(codec, harness)
        if codec["status"] in FAILED_STATUSES:
            element = ET.SubElement(case, "failure", message=reasons, type=str(codec["status"]))
            element.text = _case_detail(codec) + "\n" + use
        elif codec["status"] == "error":
            element = ET.SubElement(case, "error", message=reasons, type="error")
            element.text = _case_detail(codec) + "\n" + use
        ET.SubElement(case, "system-out").text = use
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
