"""Layers that call dlcore.functional at call time (filled in below)."""
__all__ = []
