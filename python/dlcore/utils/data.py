"""torch.utils.data's names for dlcore.data: datasets (Dataset, IterableDataset, TensorDataset, Subset,
ConcatDataset, ChainDataset, StackDataset, random_split), samplers (Sampler, SequentialSampler, RandomSampler,
SubsetRandomSampler, WeightedRandomSampler, BatchSampler, DistributedSampler), DataLoader, default_collate,
default_convert, get_worker_info."""
from ..data import (Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset, ChainDataset,  # noqa: F401
                    StackDataset, random_split, Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler,
                    WeightedRandomSampler, BatchSampler, DistributedSampler, DataLoader, default_collate,
                    default_convert, get_worker_info)
from ..data import sampler, dataset  # noqa: F401
from ..data import sampler as distributed  # noqa: F401  (torch.utils.data.distributed.DistributedSampler)

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset", "StackDataset",
           "random_split", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "DistributedSampler", "DataLoader", "default_collate",
           "default_convert", "get_worker_info"]
