"""dlcore.amp: torch.amp's GradScaler (dynamic loss scaling) and autocast.

GradScaler is the full algorithm (torch.amp.GradScaler): scale(loss) multiplies by the current scale; unscale_
divides the optimizer's gradients by it and records whether any is inf/NaN; step() skips optimizer.step() for such
an iteration; update() halves the scale after a skipped step (backoff_factor) and doubles it after growth_interval
clean ones (growth_factor). With enabled=False every method passes through, which is how most scripts run it on a
CPU (``GradScaler(enabled=use_amp)``).

autocast: torch's automatic mixed precision (dlcore/_autocast.py has the op lists and the casting rules): inside
``autocast(device_type, dtype)`` the GEMM-like ops run in the lower-precision dtype (float16 on cuda, bfloat16 on
the cpu by default), the range-sensitive ones in float32, the rest in their inputs' dtype. A context manager and a
decorator; nested regions and ``enabled=False`` inside an enabled one behave as in torch. On the cpu dlcore computes
16-bit ops in float32 (dlcore/_lowp.py), so autocast there gives torch's dtypes and results, not a speed-up.
"""
from __future__ import annotations

import functools
import math
import warnings

from . import _C
from . import _autocast as _ac

__all__ = ["GradScaler", "autocast", "is_autocast_available", "custom_fwd", "custom_bwd"]

Tensor = _C.Tensor


def is_autocast_available(device_type: str) -> bool:
    """True for the device types autocast knows (cpu, cuda), as torch.amp.is_autocast_available."""
    return device_type in _ac.DEVICE_TYPES


class autocast:
    """torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None): a context manager and a
    decorator. dtype defaults to float16 on cuda and bfloat16 on the cpu; an unsupported dtype, or cuda without a
    CUDA device, warns and disables the region, as torch does."""

    def __init__(self, device_type="cuda", dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        device_type = device_type.split(":")[0]
        if device_type not in _ac.DEVICE_TYPES:
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
        self.device = self.device_type = device_type
        self.fast_dtype = _ac.get_dtype(device_type) if dtype is None else dtype
        self._cache_enabled = True if cache_enabled is None else bool(cache_enabled)
        enabled = bool(enabled)
        if enabled and device_type == "cuda":
            from . import cuda
            if not cuda.is_available():
                warnings.warn("User provided device_type of 'cuda', but CUDA is not available. Disabling")
                enabled = False
        if enabled and self.fast_dtype not in (_C.dtype.float16, _C.dtype.bfloat16):
            what = "CUDA" if device_type == "cuda" else "CPU"
            warnings.warn(f"In {what} autocast, but the target dtype is not supported. Disabling autocast.\n"
                          f"{what} Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.")
            enabled = False
        self._enabled = enabled
        self._saved = []

    def __enter__(self):
        self._saved.append(_ac.enter(self.device_type, self._enabled, self.fast_dtype, self._cache_enabled))
        return self

    def __exit__(self, *exc):
        _ac.exit(self.device_type, self._saved.pop())
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device_type, self.fast_dtype, self._enabled, self._cache_enabled):
                return fn(*args, **kwargs)
        return wrapper


def custom_fwd(fwd=None, *, device_type="cuda", cast_inputs=None):
    """torch.amp.custom_fwd: a custom Function's forward runs with the autocast state it is called in
    (cast_inputs=None), or, inside an enabled region, with autocast off and its floating tensor inputs on
    device_type cast to cast_inputs."""
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        ctx = args[0] if args else None
        if ctx is not None:
            try:
                ctx._fwd_used_autocast = _ac.is_enabled(device_type)
                ctx._autocast_dtype = _ac.get_dtype(device_type)
            except AttributeError:
                pass
        if cast_inputs is None or not _ac.is_enabled(device_type):
            return fwd(*args, **kwargs)
        cargs = _ac._cast_all_on(args, device_type, cast_inputs)
        ckw = {k: _ac._cast_all_on(v, device_type, cast_inputs) for k, v in kwargs.items()}
        with autocast(device_type, enabled=False):
            return fwd(*cargs, **ckw)
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type="cuda"):
    """torch.amp.custom_bwd: the backward runs with the autocast state its forward ran with."""
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0] if args else None
        used = getattr(ctx, "_fwd_used_autocast", False)
        dt = getattr(ctx, "_autocast_dtype", None)
        with autocast(device_type, dtype=dt, enabled=used):
            return bwd(*args, **kwargs)
    return decorate_bwd


_READY, _UNSCALED, _STEPPED = 0, 1, 2


def _f32(x):
    """x rounded to float32 (torch keeps the scale in a float32 tensor; inf when out of range)."""
    import struct
    x = float(x)
    try:
        return struct.unpack("f", struct.pack("f", x))[0]
    except OverflowError:
        return float("inf") if x > 0 else float("-inf")


class GradScaler:
    """torch.amp.GradScaler(device='cuda', init_scale=2.**16, growth_factor=2.0, backoff_factor=0.5,
    growth_interval=2000, enabled=True). Asked for 'cuda' without a CUDA device it warns and disables itself, as
    torch does; 'cpu' works everywhere."""

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = str(device)
        if enabled and self._device.startswith("cuda"):
            from . import cuda
            if not cuda.is_available():
                warnings.warn("dlcore.amp.GradScaler is enabled, but CUDA is not available. Disabling.")
                enabled = False
        self._enabled = bool(enabled)
        if self._enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
        self._init_scale = float(init_scale)
        # as torch: the scale is created (a float32 value) by the first scale() call; get_scale() returns
        # init_scale until then, and unscale_/step/update before it are errors
        self._scale = None
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._growth_tracker = 0
        self._per_optimizer = {}

    # ---------------------------------------------------------------------------------------- scaling

    def scale(self, outputs):
        """outputs (a tensor, or nested lists/tuples of tensors) times the current scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._scale = _f32(self._init_scale)
            return outputs * self._scale
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        import collections.abc
        if isinstance(outputs, collections.abc.Iterable):  # (torch: a lazy map over any other iterable)
            return map(self.scale, outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _check_scale(self, funcname):
        if self._scale is None:
            raise AssertionError(f"Attempted {funcname} but _scale is None.  This may indicate your script did not "
                                 "use scaler.scale(loss or outputs) earlier in the iteration.")

    def _state(self, optimizer):
        return self._per_optimizer.setdefault(id(optimizer), {"stage": _READY, "found_inf": False,
                                                              "checked": False})

    def unscale_(self, optimizer):
        """Divides the gradients of optimizer's parameters by the scale (in place), recording inf/NaN ones."""
        if not self._enabled:
            return
        self._check_scale("unscale_")
        st = self._state(optimizer)
        if st["stage"] == _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if st["stage"] == _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv = _f32(1.0 / self._scale)  # torch: scale.double().reciprocal().float()
        found = checked = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if g.dtype == _C.dtype.float16:
                    raise ValueError("Attempting to unscale FP16 gradients.")
                checked = True
                if not found and not bool(_C.isfinite(g).all()):  # (the gradient as it was, before the unscale)
                    found = True
                if inv != 1.0:
                    g.mul_(inv)
        st["found_inf"] = found
        st["checked"] = checked
        st["stage"] = _UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """optimizer.step(*args, **kwargs) unless an inf/NaN gradient was found (then skipped; returns None)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale("step")
        st = self._state(optimizer)
        if st["stage"] == _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if st["stage"] == _READY:
            self.unscale_(optimizer)
        if not st["checked"]:  # no parameter had a gradient
            raise AssertionError("No inf checks were recorded for this optimizer.")
        ret = None
        if not st["found_inf"]:
            ret = optimizer.step(*args, **kwargs)
        st["stage"] = _STEPPED
        return ret

    def update(self, new_scale=None):
        """Adjusts the scale after the iteration's step()s (or sets new_scale: a float or a 1-element tensor)."""
        if not self._enabled:
            return
        self._check_scale("update")
        if new_scale is not None:
            if isinstance(new_scale, float):
                self._scale = _f32(new_scale)
            elif isinstance(new_scale, Tensor):
                reason = "new_scale should be a float or a 1-element tensor with requires_grad=False."
                if new_scale.device.type != self._device.split(":")[0]:
                    raise AssertionError(reason)
                if new_scale.numel() != 1:
                    raise AssertionError(reason)
                if new_scale.requires_grad:
                    raise AssertionError(reason)
                self._scale = _f32(new_scale.item())
            else:
                raise AttributeError(f"GradScaler.update: new_scale must be a float or a 1-element tensor, got "
                                     f"{type(new_scale).__name__}")
        else:
            if not any(st.get("checked") for st in self._per_optimizer.values()):
                raise AssertionError("No inf checks were recorded prior to update.")
            # torch's _amp_update_scale_ on its float32 scale: back off after an inf/NaN, grow after growth_interval
            # clean steps unless the grown scale overflows float32
            if any(st["found_inf"] for st in self._per_optimizer.values()):
                self._scale = _f32(self._scale * self._backoff_factor)
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    grown = _f32(self._scale * self._growth_factor)
                    if math.isfinite(grown):
                        self._scale = grown
                    self._growth_tracker = 0
        self._per_optimizer = {}

    # ---------------------------------------------------------------------------------------- accessors

    def get_scale(self):
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else self._scale

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = int(new_interval)

    def is_enabled(self):
        return self._enabled

    def state_dict(self):
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor, "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval, "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale = _f32(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])
