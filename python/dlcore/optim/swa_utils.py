"""Stochastic Weight Averaging and EMA (torch.optim.swa_utils): AveragedModel, SWALR, update_bn and the averaging
functions get_swa_avg_fn, get_ema_avg_fn, get_swa_multi_avg_fn, get_ema_multi_avg_fn."""
from __future__ import annotations

import itertools
import math
from copy import deepcopy

from .. import _C
from .._rearrange import lerp
from ..autograd import no_grad
from ..nn.module import Module
from .lr_scheduler import LRScheduler, _format_param

Tensor = _C.Tensor

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn", "get_ema_avg_fn",
           "get_swa_avg_fn"]


def _lerp_(a, b, w):
    """a <- lerp(a, b, w) in place (dlcore.lerp: torch's two-sided formula)."""
    a.copy_(lerp(a, b, w))


def _is_float(t):
    return t.dtype.is_floating_point


def get_ema_multi_avg_fn(decay=0.999):
    """In-place EMA over lists: ema <- decay*ema + (1-decay)*current."""
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")

    def ema_update(ema_param_list, current_param_list, _):
        with no_grad():
            if _is_float(ema_param_list[0]):
                for p_ema, p_model in zip(ema_param_list, current_param_list):
                    _lerp_(p_ema, p_model, 1 - decay)
            else:
                for p_ema, p_model in zip(ema_param_list, current_param_list):
                    p_ema.copy_(p_ema * decay + p_model * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn():
    """In-place running mean over lists: avg <- avg + (current - avg)/(num_averaged + 1)."""

    def swa_update(averaged_param_list, current_param_list, num_averaged):
        with no_grad():
            if _is_float(averaged_param_list[0]):
                w = float(1 / (num_averaged + 1))  # a 0-d tensor's quotient rounds in its dtype, as torch's does
                for p_avg, p_model in zip(averaged_param_list, current_param_list):
                    _lerp_(p_avg, p_model, w)
            else:
                if isinstance(num_averaged, Tensor):
                    # torch divides with addcdiv here, which refuses integer tensors
                    raise RuntimeError("Integer division with addcdiv is no longer supported, and in a future "
                                       "release addcdiv will perform a true division of tensor1 and tensor2. "
                                       "(swa_utils.get_swa_multi_avg_fn got integer tensors with a tensor "
                                       "num_averaged)")
                for p_avg, p_model in zip(averaged_param_list, current_param_list):
                    p_avg.copy_(p_avg + (p_model - p_avg) * (1.0 / (num_averaged + 1)))

    return swa_update


def get_ema_avg_fn(decay=0.999):
    """EMA of one parameter: returns decay*ema + (1-decay)*current."""
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")

    def ema_update(ema_param, current_param, num_averaged):
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn():
    """Running mean of one parameter: returns avg + (current - avg)/(num_averaged + 1)."""

    def swa_update(averaged_param, current_param, num_averaged):
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


class AveragedModel(Module):
    """A copy of `model` (on `device` if given) whose parameters (and buffers with use_buffers=True) are running
    averages of the model's: update_parameters(model) copies them the first time and then applies avg_fn (one
    tensor at a time) or multi_avg_fn (lists grouped by device and dtype), by default the equal-weight SWA mean.
    Without use_buffers the buffers are copied from the model at each update. n_averaged counts the updates."""

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", _C.zeros([], _C.dtype.int64, device if device is not None else "cpu"))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model):
        if self.use_buffers:
            self_param = itertools.chain(self.module.parameters(), self.module.buffers())
            model_param = itertools.chain(model.parameters(), model.buffers())
        else:
            self_param = self.parameters()
            model_param = model.parameters()
        with no_grad():
            self_detached, model_detached = [], []
            copy_param = int(self.n_averaged.item()) == 0
            for p_averaged, p_model in zip(self_param, model_param):
                p_model_ = p_model.detach().to(p_averaged.device)
                self_detached.append(p_averaged.detach())
                model_detached.append(p_model_)
                if copy_param:
                    p_averaged.detach().copy_(p_model_)

            if int(self.n_averaged.item()) > 0:
                if self.multi_avg_fn is not None or self.avg_fn is None:
                    groups = {}
                    for pa, pm in zip(self_detached, model_detached):
                        key = (str(pa.device), str(pa.dtype))
                        groups.setdefault(key, ([], [], pa.device))
                        groups[key][0].append(pa)
                        groups[key][1].append(pm)
                    for self_params, model_params, dev in groups.values():
                        n_averaged = self.n_averaged.to(dev)
                        if self.multi_avg_fn:
                            self.multi_avg_fn(self_params, model_params, n_averaged)
                        else:
                            # the default equal-weight mean, one tensor at a time (torch's CPU path; its CUDA path
                            # is the lerp of get_swa_multi_avg_fn, equal up to rounding)
                            avg_fn = get_swa_avg_fn()
                            for pa, pm in zip(self_params, model_params):
                                pa.copy_(avg_fn(pa, pm, n_averaged))
                else:
                    for pa, pm in zip(self_detached, model_detached):
                        n_averaged = self.n_averaged.to(pa.device)
                        pa.detach().copy_(self.avg_fn(pa.detach(), pm, n_averaged))

            if not self.use_buffers:
                # keep the buffers (e.g. BatchNorm statistics) in sync with the model's
                for b_swa, b_model in zip(self.module.buffers(), model.buffers()):
                    b_swa.detach().copy_(b_model.detach().to(b_swa.device))
            _C.add_(self.n_averaged, 1)


def update_bn(loader, model, device=None):
    """One pass over loader in train mode to recompute the running_mean / running_var of model's BatchNorm layers
    as plain averages over the batches (momentum=None), restoring momentum and the training flag afterwards. A batch
    is a tensor or a list/tuple whose first element is the input."""
    from ..nn.layers import _BatchNorm
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    with no_grad():
        for input in loader:
            if isinstance(input, (list, tuple)):
                input = input[0]
            if device is not None:
                input = input.to(device)
            model(input)
    for bn_module in momenta:
        bn_module.momentum = momenta[bn_module]
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneals each group's lr to its swa_lr over anneal_epochs ("cos" or "linear"), then keeps it there."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        swa_lrs = _format_param("swa_lr", optimizer, swa_lr)
        for lr, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ["cos", "linear"]:
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in self.optimizer.param_groups]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [group["swa_lr"] * alpha + lr * (1 - alpha) for group, lr in zip(self.optimizer.param_groups, prev_lrs)]

    def _set_anneal_func(self, anneal_strategy):
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)
