"""Fashion-MNIST and MNIST from local IDX files (no network).

The files are looked up in `root`, else $DLCORE_DATA, else /usr/share/datasets/fashion-mnist (Debian package
dataset-fashion-mnist: `sudo apt-get install dataset-fashion-mnist`)."""
from __future__ import annotations

import os

import numpy as np

from .dataset import Dataset
from .idx import IdxError, read_idx

DEFAULT_DIRS = {"fashion-mnist": "/usr/share/datasets/fashion-mnist", "mnist": "/usr/share/datasets/mnist"}
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                         "Ankle boot"]
# Mean and standard deviation of the Fashion-MNIST training pixels scaled to [0, 1].
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def find_data_dir(name="fashion-mnist", root=None) -> str:
    if root:
        # An explicit root is used alone: silently falling back to another copy would hide a typo.
        if os.path.isdir(root) and any(f.startswith("train-images") for f in os.listdir(root)):
            return root
        raise FileNotFoundError(
            f"{name}: no IDX files found in {root} (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
            f"t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]). Install the data with "
            f"`sudo apt-get install dataset-{name}` (Debian) into {DEFAULT_DIRS[name]}, or pass the directory "
            f"that holds them.")
    candidates = []
    if os.environ.get("DLCORE_DATA"):
        candidates.append(os.environ["DLCORE_DATA"])
    candidates.append(DEFAULT_DIRS[name])
    for c in candidates:
        if c and os.path.isdir(c) and any(f.startswith("train-images") for f in os.listdir(c)):
            return c
    raise FileNotFoundError(
        f"{name}: no IDX files found (looked in {', '.join(str(c) for c in candidates)}). Install the data with "
        f"`sudo apt-get install dataset-{name}` (Debian), or point DLCORE_DATA (or root=) at a directory holding "
        f"train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz] and "
        f"t10k-labels-idx1-ubyte[.gz].")


def _find_file(d, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{d}: missing {stem}[.gz]")


class FashionMNIST(Dataset):
    """Images as uint8 [N, 28, 28] and labels as int64 [N]. A sample is (transform(image), label); with no
    transform the image is float32 [1, 28, 28] in [0, 1]. get_batch applies batch transforms vectorised."""

    name = "fashion-mnist"
    classes = FASHION_MNIST_CLASSES
    mean, std = FASHION_MNIST_MEAN, FASHION_MNIST_STD

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=False):
        if download:
            raise RuntimeError(f"{type(self).__name__}: dlcore never downloads at run time; install the data "
                               f"locally (`sudo apt-get install dataset-{self.name}`) or set DLCORE_DATA")
        d = find_data_dir(self.name, root)
        prefix = "train" if train else "t10k"
        img_path = _find_file(d, f"{prefix}-images-idx3-ubyte")
        lbl_path = _find_file(d, f"{prefix}-labels-idx1-ubyte")
        images = read_idx(img_path)
        labels = read_idx(lbl_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise IdxError(f"{img_path}: expected uint8 images [N, H, W], got {images.dtype} {images.shape}")
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise IdxError(f"{lbl_path}: expected uint8 labels [N], got {labels.dtype} {labels.shape}")
        if len(images) != len(labels):
            raise IdxError(f"{d}: {len(images)} images but {len(labels)} labels")
        if labels.size and labels.max() > 9:
            raise IdxError(f"{lbl_path}: label {int(labels.max())} out of range 0..9")
        self.root = d
        self.train = train
        self.images = images
        self.targets = labels.astype(np.int64)
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        img = self.images[index]
        x = self.transform(img) if self.transform is not None else (img.astype(np.float32) / 255.0)[None]
        y = int(self.targets[index])
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def get_batch(self, indices):
        imgs = self.images[indices]
        t = self.transform
        if t is None:
            x = (imgs.astype(np.float32) * (1.0 / 255.0))[:, None]
        elif hasattr(t, "batch"):
            x = t.batch(imgs)
        else:
            x = np.stack([np.asarray(t(im)) for im in imgs])
        y = self.targets[indices]
        if self.target_transform is not None:
            y = np.asarray([self.target_transform(int(v)) for v in y])
        return x, y


class MNIST(FashionMNIST):
    name = "mnist"
    classes = [str(i) for i in range(10)]
    mean, std = MNIST_MEAN, MNIST_STD
