"""dlcore.data: datasets, the data loader (shuffling from a seed, a background prefetch thread), transforms, and
the IDX reader behind Fashion-MNIST/MNIST."""
from .dataset import Dataset, TensorDataset, Subset, ConcatDataset, random_split  # noqa: F401
from .loader import DataLoader, default_collate  # noqa: F401
from . import transforms  # noqa: F401
from .idx import read_idx, IdxError  # noqa: F401
from .mnist import FashionMNIST, MNIST, find_data_dir, FASHION_MNIST_CLASSES  # noqa: F401
