"""dlcore.backends.mps: torch.backends.mps's queries. dlcore has no Apple Metal (MPS) backend: both are False, so
the usual ``"mps" if torch.backends.mps.is_available() else "cpu"`` device choice picks another device."""
from __future__ import annotations


def is_available() -> bool:
    return False


def is_built() -> bool:
    return False
