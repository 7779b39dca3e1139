"""torch's fused CPU Adam kernel, stepped without ``torch.optim``.

The first ``torch.optim.Optimizer`` a process builds or steps imports ``torch._dynamo``, about 1.3 s
on the build machine: on a 70-row corpus that is three times the training itself, paid by every
pool worker before its first fold. ``torch._fused_adam_`` is the kernel ``Adam(fused=True)`` calls;
stepping it here gives the same update bit for bit (tests compare the two over a whole training
run), without the import. The reference profile keeps ``torch.optim.Adam``, as the old trainer did.
"""

from __future__ import annotations

import torch

BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults, which the profiles have always used
EPS = 1e-8


class FusedAdam:
    """Adam on ``params`` with one learning rate, the state torch's own fused Adam would keep."""

    def __init__(self, params: list[torch.Tensor], lr: float) -> None:
        self.params = params
        self.param_groups = [{"lr": lr}]  # the schedule sets ``["lr"]`` as on a torch optimiser
        self._exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self._exp_avg_sqs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self._steps = [torch.tensor(0.0, dtype=torch.float32) for _ in params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.params:
            param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        grads = [param.grad for param in self.params if param.grad is not None]
        if len(grads) < len(self.params):
            raise RuntimeError("FusedAdam.step() before every parameter has a gradient")
        torch._foreach_add_(self._steps, 1)
        torch._fused_adam_(self.params, grads, self._exp_avgs, self._exp_avg_sqs, [], self._steps, amsgrad=False,
                           lr=float(self.param_groups[0]["lr"]), beta1=BETAS[0], beta2=BETAS[1], weight_decay=0.0,
                           eps=EPS, maximize=False, grad_scale=None, found_inf=None)
