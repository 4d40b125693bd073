"""nn.AdaptiveLogSoftmaxWithLoss (Grave et al., "Efficient softmax approximation for GPUs",
https://arxiv.org/abs/1609.04309), as torch.nn.AdaptiveLogSoftmaxWithLoss.

The classes are split by ``cutoffs`` into a shortlist (classes [0, cutoffs[0])) scored by the head together with one
logit per tail cluster, and clusters [cutoffs[i], cutoffs[i+1]) scored by a two-layer projection of width
in_features // div_value**(i+1). log p(class) = head log-softmax of the class (shortlist) or of its cluster plus
the cluster's own log-softmax of the class. Parameter names and state-dict keys are torch's (head.weight,
tail.<i>.0.weight, tail.<i>.1.weight)."""
from __future__ import annotations

from collections import namedtuple

from .. import _C
from .. import _ops
from .. import functional as F
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

Tensor = _C.Tensor

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


def _dl():
    import dlcore
    return dlcore


class AdaptiveLogSoftmaxWithLoss(Module):
    """Efficient softmax approximation for large output spaces. forward(input, target) returns
    (output, loss): output[i] = log p(target[i] | input[i]) and loss = mean(-output). log_prob(input) gives the
    full (N, n_classes) log-probabilities and predict(input) the most likely class of each row."""

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False, device=None, dtype=None):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > (n_classes - 1)
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted in an increasing "
                             "order, where each value is between 1 and n_classes-1")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = [int(c) for c in cutoffs] + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(self.in_features, self.head_size, bias=self.head_bias, **factory_kwargs)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hsz = int(self.in_features // (self.div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            projection = Sequential(Linear(self.in_features, hsz, bias=False, **factory_kwargs),
                                    Linear(hsz, osz, bias=False, **factory_kwargs))
            self.tail.append(projection)

    def reset_parameters(self):
        self.head.reset_parameters()
        for i2h, h2o in self.tail:
            i2h.reset_parameters()
            h2o.reset_parameters()

    def forward(self, input_, target_):
        if not isinstance(input_, Tensor) or not isinstance(target_, Tensor):
            raise TypeError("AdaptiveLogSoftmaxWithLoss: input and target must be dlcore.Tensors, got "
                            f"{type(input_).__name__} and {type(target_).__name__}")
        targ_dim = target_.dim()
        if targ_dim == 1:
            if input_.shape[0] != target_.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch dimension.")
            if input_.dim() != 2:
                raise RuntimeError("1D target tensor expects 2D input tensors, but found inputs with size "
                                   f"{list(input_.shape)}")
        elif targ_dim == 0:
            if input_.dim() != 1:
                raise RuntimeError("0D target tensor expects 1D input tensors, but found inputs with size "
                                   f"{list(input_.shape)}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if target_.dtype.is_floating_point:
            raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: target must be an integer tensor, got {target_.dtype}")
        if input_.shape[-1] != self.in_features:
            raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: input of shape {list(input_.shape)} does not have "
                               f"in_features={self.in_features} features")
        dl = _dl()
        is_batched = targ_dim > 0
        input = input_ if is_batched else input_.unsqueeze(0)
        target = (target_ if is_batched else target_.unsqueeze(0)).to(dtype=dl.int64)

        used_rows = 0
        batch_size = target.shape[0]
        output = input.new_zeros(batch_size)
        gather_inds = target.new_zeros(batch_size)
        cutoff_values = [0] + self.cutoffs
        for i in range(len(cutoff_values) - 1):
            low_idx = cutoff_values[i]
            high_idx = cutoff_values[i + 1]
            target_mask = _ops.logical_and(_ops.ge(target, low_idx), _ops.lt(target, high_idx))
            row_indices = target_mask.nonzero().reshape(-1)
            if row_indices.numel() == 0:
                continue
            if i == 0:
                gather_inds = dl.index_copy(gather_inds, 0, row_indices, target[target_mask])
            else:
                relative_target = _ops.sub(target[target_mask], low_idx)
                input_subset = input.index_select(0, row_indices)
                cluster_output = self.tail[i - 1](input_subset)
                cluster_index = self.shortlist_size + i - 1
                gather_inds = gather_inds.index_fill(0, row_indices, cluster_index)
                cluster_logprob = F.log_softmax(cluster_output, dim=1)
                local_logprob = cluster_logprob.gather(1, relative_target.unsqueeze(1))
                output = dl.index_copy(output, 0, row_indices, local_logprob.squeeze(1))
            used_rows += row_indices.numel()
        if used_rows != batch_size:
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but values in range "
                               f"[{target.min().item()}, {target.max().item()}] were found. ")
        head_output = self.head(input)
        head_logprob = F.log_softmax(head_output, dim=1)
        output = _ops.add(output, head_logprob.gather(1, gather_inds.unsqueeze(1)).squeeze(1))
        loss = _ops.neg(output).mean()
        if not is_batched:
            output = output.squeeze(0)
        return _ASMoutput(output, loss)

    def _get_full_log_prob(self, input, head_output):
        head_logprob = F.log_softmax(head_output, dim=1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster_logprob = F.log_softmax(self.tail[i](input), dim=1)
            parts.append(_ops.add(cluster_logprob, head_logprob[:, self.shortlist_size + i].unsqueeze(1)))
        return _dl().cat(parts, dim=1)

    def _check_input(self, input, op):
        if not isinstance(input, Tensor):
            raise TypeError(f"AdaptiveLogSoftmaxWithLoss.{op}: input must be a dlcore.Tensor, got "
                            f"{type(input).__name__}")
        if input.dim() != 2 or input.shape[1] != self.in_features:
            raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss.{op}: expected input of shape (N, {self.in_features}), "
                               f"got {list(input.shape)}")

    def log_prob(self, input):
        """The log-probabilities of every class, (N, n_classes)."""
        self._check_input(input, "log_prob")
        return self._get_full_log_prob(input, self.head(input))

    def predict(self, input):
        """The most likely class of each row (N,), as argmax(log_prob(input), dim=1) but computing the tail clusters
        only for rows whose head argmax is not in the shortlist."""
        self._check_input(input, "predict")
        dl = _dl()
        head_output = self.head(input)
        output = dl.argmax(head_output, dim=1)
        not_in_shortlist = _ops.ge(output, self.shortlist_size)
        if not bool(not_in_shortlist.any()):
            return output
        if bool(not_in_shortlist.all()):
            return dl.argmax(self._get_full_log_prob(input, head_output), dim=1)
        log_prob = self._get_full_log_prob(input[not_in_shortlist], head_output[not_in_shortlist])
        output[not_in_shortlist] = dl.argmax(log_prob, dim=1)
        return output
