"""Training profiles: the fast default and the reference trainer's exact hyper-parameters."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

# The fewest epochs the row budget (``max_row_visits``) leaves a model: every row is seen a few times.
MIN_EPOCHS = 5


@dataclass(frozen=True)
class TrainingProfile:
    name: str
    epochs: int
    batch_size: int
    learning_rate: float
    # How many LOSO folds one task trains side by side as a single batched model.
    folds_per_task: int
    # Decay the learning rate to zero over training (cosine); the reference kept it constant.
    cosine_decay: bool
    # Reference parity: parse every corpus file again for each codec, and run codecs one by one.
    reread_corpus_per_codec: bool = False
    sequential_codecs: bool = False
    # Double the batch (and scale the learning rate by sqrt 2) per doubling of rows beyond this
    # many, so big corpora take a similar number of optimiser steps as small ones. 0 = off.
    rows_per_batch_doubling: int = 0
    # torch's fused CPU Adam: the same update rule in one kernel, about 17% less time per step.
    # The reference profile keeps the plain implementation the old trainer used.
    fused_adam: bool = False
    # Feed the network log(max(x, 1)) of the size-like inputs (bitrate, frame bytes, shot length,
    # width, height) instead of raw values: quality follows bits per pixel, a ratio, so in the log
    # domain it is close to additive and a 9-20 source corpus does not have to teach the network
    # division. Computed inside the ONNX graph, so the runtime still feeds raw values.
    log_inputs: bool = False
    # Decoupled weight decay on the weight matrices, expressed as how far it alone would shrink them
    # over the whole run (weights x e^-shrink), so the strength does not depend on how many steps
    # or what learning rate a corpus size leads to. 0 = off. See docs/models.md "How the default generalises".
    shrink: float = 0.0
    # The harness asks a model for the largest CRF whose VMAF still meets a target, and operators
    # set targets of 80-95 (the harness defaults to 92-93). Rows more than 10 VMAF below the lowest
    # target cannot decide a pick, yet under plain MSE they dominate the fit, because quality spreads
    # most across content there (the real sweep's clips span VMAF 29-62 at CRF 45, 95-99 at CRF 22).
    # Their squared errors count ``low_quality_weight`` times; 1 = plain MSE (docs/models.md "Trained for
    # the harness's targets").
    low_quality_weight: float = 1.0
    low_quality_below: float = 70.0
    # On small corpora, choose the model per fold by nested LOSO among learning.selection's
    # candidates (docs/models.md "Model choice by nested LOSO"): with ``shrink_grid`` networks at several
    # shrinks (else only at ``shrink``), with ``line_candidate`` also the embedded ridge line
    # where the quality input is dead, with ``curve_candidate`` the content-blind curve where it is
    # live and the corpus has quality ladders. One candidate alone means no choice: plain training.
    nested_selection: bool = False
    shrink_grid: bool = False
    line_candidate: bool = False
    # Where the quality input is live, also offer the content-blind curve (learning.curve_candidate).
    curve_candidate: bool = False
    # Set only by selection.profile_for when nested LOSO chose the line: the full-corpus model is
    # the embedded line (learning.line_model), not a network.
    train_line: bool = False
    # Which member of the line family (learning.line_family) the full-corpus line uses.
    line_inputs: str = "line"
    # Set only by selection.profile_for when nested LOSO chose the curve: the full-corpus model reads
    # the quality input alone.
    train_curve: bool = False
    # Each fold's model draws its weights and row order from its own stream, seeded by (seed, codec, fold),
    # and steps through the whole table with its held-out rows weighted 0: a fold's model is then the same
    # whether it trains alone or beside other folds (learning.model.fit), so splitting changes no result.
    per_fold_streams: bool = False
    # A codec of at least this many rows trains each fold as a task of its own (both cores on one codec,
    # folds that stream); smaller ones keep ``folds_per_task`` side by side, where per-step overhead, not
    # arithmetic, dominates. 0 = never split. Needs ``per_fold_streams`` to leave results unchanged.
    split_folds_rows: int = 0
    # Cost that follows the data: a model sees at most this many rows in all (epochs x rows); a larger
    # table trains fewer epochs, with its batch scaled down to match so the optimiser takes as many steps
    # as at full epochs. 0 = off. Corpora below max_row_visits / epochs rows are untouched.
    max_row_visits: int = 0

    def epochs_for(self, n_rows: int) -> int:
        """Epochs for a training table of ``n_rows``: the profile's, or fewer where the row budget binds."""
        if self.max_row_visits <= 0 or n_rows * self.epochs <= self.max_row_visits:
            return self.epochs
        return max(MIN_EPOCHS, math.ceil(self.max_row_visits / n_rows))

    def batch_and_lr(self, n_rows: int) -> tuple[int, float]:
        """Effective batch size and learning rate for a training table of ``n_rows``.

        Where ``epochs_for`` cuts epochs, the batch follows the rows seen in all (``n_rows`` x the share of
        epochs kept), so the number of optimiser steps stays what full epochs would take."""
        n_rows = n_rows * self.epochs_for(n_rows) // max(1, self.epochs)
        if self.rows_per_batch_doubling <= 0 or n_rows <= self.rows_per_batch_doubling:
            return self.batch_size, self.learning_rate
        doublings = max(0, round(math.log2(n_rows / self.rows_per_batch_doubling)))
        return self.batch_size * 2**doublings, self.learning_rate * math.sqrt(2**doublings)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


DEFAULT_PROFILE = TrainingProfile(
    name="default",
    epochs=100,
    batch_size=32,
    learning_rate=5e-3,
    folds_per_task=5,
    cosine_decay=True,
    rows_per_batch_doubling=500,
    fused_adam=True,
    log_inputs=True,
    shrink=6.0,
    low_quality_weight=0.25,
    nested_selection=True,
    line_candidate=True,
    curve_candidate=True,
    per_fold_streams=True,
    split_folds_rows=10_000,
    max_row_visits=10_000_000,
)
# The default with its shrink also chosen per fold by nested LOSO (learning.selection). Opt-in: on
# both real corpora it did not beat the fixed shrink (docs/models.md "Model choice by nested LOSO").
NESTED_PROFILE = replace(DEFAULT_PROFILE, name="nested", shrink_grid=True)
REFERENCE_PROFILE = TrainingProfile(
    name="reference",
    epochs=200,
    batch_size=32,
    learning_rate=5e-3,
    folds_per_task=1,
    cosine_decay=False,
    reread_corpus_per_codec=True,
    sequential_codecs=True,
)
PROFILES = {p.name: p for p in (DEFAULT_PROFILE, NESTED_PROFILE, REFERENCE_PROFILE)}
