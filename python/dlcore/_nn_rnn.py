"""(placeholder: filled by the family that owns it)"""
__all__ = []
