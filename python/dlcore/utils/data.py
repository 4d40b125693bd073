"""torch.utils.data's names for dlcore.data: Dataset, TensorDataset, Subset, ConcatDataset, random_split,
DataLoader, default_collate."""
from ..data import (Dataset, TensorDataset, Subset, ConcatDataset, random_split, DataLoader,  # noqa: F401
                    default_collate)

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "DataLoader", "default_collate"]
