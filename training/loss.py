"""Fused linear + cross-entropy over chunks of rows: the full [tokens, vocab] logits never exist.

Forward computes, chunk by chunk, the logits of the rows that carry a target, their loss, and at once the gradient
with respect to the hidden states (softmax - one-hot) @ W; backward only scales that stored gradient. Peak extra
memory is one chunk of logits (ce_chunk x vocab, fp32) instead of all of them, and no logits are recomputed.
Rows without a target are dropped before the lm_head, so masked prompt tokens cost no vocab projection at all.
"""
from __future__ import annotations

import torch


class _FusedLinearCE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, targets, chunk: int):
        n = hidden.shape[0]
        loss = torch.zeros((), dtype=torch.float32, device=hidden.device)
        grad_hidden = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if ctx.needs_input_grad[1] else None
        ctx.weight_dtype = weight.dtype
        for start in range(0, n, chunk):
            h = hidden[start:start + chunk]
            t = targets[start:start + chunk]
            logp = torch.log_softmax((h @ weight.t()).float(), dim=-1)  # one fused pass over the chunk
            rows = torch.arange(len(t), device=t.device)
            loss -= logp[rows, t].sum()
            if grad_hidden is None and grad_weight is None:
                continue
            probs = logp.exp_()  # softmax, in place of the log-probabilities
            probs[rows, t] -= 1.0
            probs = probs.to(hidden.dtype)
            if grad_hidden is not None:
                grad_hidden[start:start + chunk] = probs @ weight
            if grad_weight is not None:
                grad_weight += (probs.t() @ h).float()
        ctx.save_for_backward(grad_hidden, grad_weight)
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        grad_hidden, grad_weight = ctx.saved_tensors
        gh = grad_hidden * grad_loss.to(grad_hidden.dtype) if grad_hidden is not None else None
        gw = (grad_weight * grad_loss).to(ctx.weight_dtype) if grad_weight is not None else None
        return gh, gw, None, None


def fused_linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                               chunk: int = 2048) -> torch.Tensor:
    """Sum (not mean) of token cross-entropies of `hidden @ weight.T` against `targets` ([N, H], [V, H], [N])."""
    if hidden.shape[0] == 0:
        return hidden.sum() * 0.0
    return _FusedLinearCE.apply(hidden, weight, targets, max(1, int(chunk)))


def reference_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The plain computation (full logits), for tests and the baseline."""
    logits = (hidden @ weight.t()).float()
    return torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
