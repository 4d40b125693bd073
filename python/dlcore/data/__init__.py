"""dlcore.data: torch.utils.data's datasets, samplers and DataLoader (worker processes, or one background
prefetch thread, shuffling from a seed), plus transforms and the IDX reader behind Fashion-MNIST/MNIST."""
from .dataset import (Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset, ChainDataset,  # noqa: F401
                      StackDataset, random_split)
from .sampler import (Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler,  # noqa: F401
                      WeightedRandomSampler, BatchSampler, DistributedSampler)
from .collate import default_collate, default_convert  # noqa: F401
from .worker import get_worker_info, WorkerInfo  # noqa: F401
from .loader import DataLoader  # noqa: F401
from . import transforms  # noqa: F401
from .idx import read_idx, IdxError  # noqa: F401
from .mnist import FashionMNIST, MNIST, find_data_dir, FASHION_MNIST_CLASSES  # noqa: F401
