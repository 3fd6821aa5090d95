"""The evolution app's tables, one module per idea."""

from .audit import Annotation, Decision
from .checks import CheckRun, Upload
from .design import Design, DesignParent
from .events import Event
from .jobs import Job
from .runs import DesignRequest, EvolutionRun, Verification
from .units import DesignUnit, Unit

__all__ = [
    "Annotation", "CheckRun", "Decision", "Design", "DesignParent", "DesignRequest", "DesignUnit", "Event",
    "EvolutionRun", "Job", "Unit", "Upload", "Verification",
]
