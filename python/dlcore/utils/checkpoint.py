"""Activation checkpointing (torch.utils.checkpoint): trade compute for memory.

``checkpoint(fn, *args)`` runs fn with autograd recording as usual, but drops the tensors that the ops inside saved
for their backward (the activations); the first backward step that needs them reruns fn (grad mode on, the RNG state
of the first run restored, so dropout draws the same masks) and takes the rerun's saved tensors, matched op by op.
This is torch's non-reentrant variant: gradients reach the parameters used inside fn and work with
``autograd.grad`` and ``create_graph``; ``use_reentrant`` is accepted for compatibility and selects the same
mechanism. The function must compute the same ops on each run (checked: a different sequence of saved tensors
raises), and its tensor inputs must not be modified in place between the forward and the backward.
"""
from __future__ import annotations

from ..autograd import _checkpoint_run, is_grad_enabled

__all__ = ["checkpoint", "checkpoint_sequential"]


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default", debug=False,
               preserve_rng_state=True, **kwargs):
    """function(*args, **kwargs) with its activations recomputed in the backward instead of kept."""
    if context_fn is not None:
        raise NotImplementedError("checkpoint: context_fn is not supported by dlcore")
    if determinism_check not in ("default", "none"):
        raise ValueError(f"checkpoint: determinism_check must be 'default' or 'none', got {determinism_check!r}")
    if not is_grad_enabled():
        return function(*args, **kwargs)
    return _checkpoint_run(function, args, kwargs, preserve_rng_state)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Runs a sequence of modules/functions (an nn.Sequential or a list) in `segments` chunks, each but the last
    checkpointed (torch.utils.checkpoint.checkpoint_sequential)."""
    fns = list(functions.children()) if hasattr(functions, "children") else list(functions)
    if segments < 1:
        raise ValueError(f"checkpoint_sequential: segments must be at least 1, got {segments}")
    size = len(fns) // segments  # torch's split: segments - 1 checkpointed chunks of this size, then the rest

    def run(lo, hi):
        def f(x):
            for m in fns[lo:hi]:
                x = m(x)
            return x
        return f

    end = 0
    if size:
        for start in range(0, size * (segments - 1), size):
            end = start + size
            input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, **kwargs)
    return run(end, len(fns))(input)
