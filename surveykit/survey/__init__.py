"""The design-based engine, like R's ``survey``: it knows nothing of questionnaires."""
from .design import Design

__all__ = ["Design"]
