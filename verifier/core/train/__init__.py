"""The verification engine: turn a checked design into measured fitness at a rung of the ladder.

Runs with torch alone for training; transformers, datasets, lm-eval, safetensors and tqdm are
imported where they are needed. Entry points: `verify_design` (Python) and
`python -m verifier.core verify` (CLI, see cli.py).
"""

from .fitness import design_fitness, rung_fitness
from .ladder import LADDER, RANDOM_BASELINES, Rung, get_rung
from .prepare_data import data_status, prepare_data
from .report import VerificationReport
from .verify import VerifyConfig, verify_design

__all__ = [
    "LADDER", "RANDOM_BASELINES", "Rung", "VerificationReport", "VerifyConfig", "data_status", "design_fitness",
    "get_rung", "prepare_data", "rung_fitness", "verify_design",
]
