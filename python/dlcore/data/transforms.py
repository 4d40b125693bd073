"""Transforms for images: each works on one sample (__call__) and, vectorised, on a batch (batch), so the loader
prepares a whole batch in a few NumPy calls. Images are uint8 [H, W] / [H, W, C] or float [C, H, W] arrays;
ToTensor turns uint8 pixels into float32 [C, H, W] in [0, 1]."""
from __future__ import annotations

import numpy as np


def _rng(seed):
    if seed is None:
        from .. import _C
        seed = int(_C.default_generator().reserve(1)) ^ int(_C.default_generator().seed)
    return np.random.default_rng(seed)


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def batch(self, x):
        for t in self.transforms:
            x = t.batch(x) if hasattr(t, "batch") else np.stack([t(v) for v in x])
        return x

    def __repr__(self):
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


class ToTensor:
    """uint8 [H, W] or [H, W, C] -> float32 [C, H, W] scaled to [0, 1] (a NumPy array; the loader makes tensors)."""

    def __call__(self, img):
        return self.batch(np.asarray(img)[None])[0]

    def batch(self, imgs):
        imgs = np.asarray(imgs)
        x = imgs.astype(np.float32) * (1.0 / 255.0) if imgs.dtype == np.uint8 else imgs.astype(np.float32)
        if x.ndim == 3:
            return x[:, None]
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """(x - mean) / std per channel on float [C, H, W] images."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, np.float32).reshape(-1, 1, 1)
        if np.any(self.std == 0):
            raise ValueError("Normalize: std must be non-zero")

    def __call__(self, x):
        return ((np.asarray(x, np.float32) - self.mean) / self.std).astype(np.float32)

    def batch(self, x):
        return ((np.asarray(x, np.float32) - self.mean[None]) / self.std[None]).astype(np.float32)

    def __repr__(self):
        return f"Normalize(mean={self.mean.ravel().tolist()}, std={self.std.ravel().tolist()})"


class RandomHorizontalFlip:
    def __init__(self, p=0.5, seed=None):
        self.p = p
        self.rng = _rng(seed)

    def __call__(self, x):
        return np.ascontiguousarray(x[..., ::-1]) if self.rng.random() < self.p else x

    def batch(self, x):
        x = np.array(x, copy=True)
        flip = self.rng.random(len(x)) < self.p
        x[flip] = x[flip][..., ::-1]
        return x

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class RandomCrop:
    """Pads each side by `padding` (zeros) and crops a random size x size window: a random translation of up to
    `padding` pixels when size equals the input size."""

    def __init__(self, size, padding=0, seed=None):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding = int(padding)
        self.rng = _rng(seed)

    def __call__(self, x):
        return self.batch(np.asarray(x)[None])[0]

    def batch(self, x):
        x = np.asarray(x)
        p = self.padding
        h, w = x.shape[-2], x.shape[-1]
        th, tw = self.size
        if h + 2 * p < th or w + 2 * p < tw:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the padded input {(h + 2 * p, w + 2 * p)}")
        pad = [(0, 0)] * (x.ndim - 2) + [(p, p), (p, p)]
        xp = np.pad(x, pad) if p else x
        n = len(x)
        oy = self.rng.integers(0, h + 2 * p - th + 1, n)
        ox = self.rng.integers(0, w + 2 * p - tw + 1, n)
        out = np.empty(x.shape[:-2] + (th, tw), dtype=x.dtype)
        for i in range(n):
            out[i] = xp[i, ..., oy[i]:oy[i] + th, ox[i]:ox[i] + tw]
        return out

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomTranslate(RandomCrop):
    """Shifts by up to max_shift pixels in each direction (zero fill)."""

    def __init__(self, max_shift, size, seed=None):
        super().__init__(size, padding=max_shift, seed=seed)


class Lambda:
    def __init__(self, fn):
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)
