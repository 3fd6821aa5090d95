"""The LM wrapper around a block."""

from .lm import GenesysLM, LMConfig, LMOutput

__all__ = ["GenesysLM", "LMConfig", "LMOutput"]
