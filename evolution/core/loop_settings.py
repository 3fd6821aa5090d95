"""The settings of an evolution run, editable while it runs. Plain data with validation, so the
web form, the API and the conductor all agree on what a valid change is.

A verification's timeout comes from its rung's cost estimate (`verifier.core.train.ladder.timeout_s`:
a floor plus a multiple of the estimate, so 350M gets about 32 h against its 10 h estimate);
`verify_timeout_s` holds only the rungs a researcher set by hand.

Ablation presets (`PRESETS`) switch three parts of the search off, as in the paper's ablations: the
experiment feedback (`fitness_feedback`: parents are drawn ignoring fitness), the literature
(`literature`: the proposer gets no references from the knowledge engine) and the evolution itself
(`seed_parents_only`: every parent is a seed, "Base"). A preset is a settings diff; any other diff
may be applied on top (`preset_settings`), and `preset_of` names the preset a run's settings match."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from verifier.core.train.fitness import DEFAULT_METRIC, METRICS
from verifier.core.train.ladder import get_rung, timeout_s

from .selection import SelectionSettings

STATES = ("running", "paused", "stopped")
DESIGNERS = ("auto", "gp", "llm")


class SettingsError(ValueError):
    """A settings change that cannot be applied; the message names the field."""


@dataclass
class LoopSettings:
    design_workers: int = 2
    verify_workers: int = 1
    designer: str = "auto"  # auto: LLM agents when a key is configured, else the GP designer
    mix: dict[str, float] = field(default_factory=lambda: {"scratch": 0.05, "mutation": 0.8, "crossover": 0.15})
    explore_prob: float = 0.2
    top_fraction: float = 0.25
    reverify_fraction: float = 0.25  # share of a rung's budget that re-verifying close calls may use
    verify_timeout_s: dict[str, float] = field(default_factory=dict)  # per rung, overriding the estimate
    max_designs: int = 0  # stop designing after this many designs in the run (0 = no limit)
    max_backlog: int = 20  # designs awaiting a first verification that pause the stage before (core/backpressure.py)
    max_screen_backlog: int = 20  # with a screen rung first: designs awaiting the screen that pause designing
    max_attempts: int = 3  # a job whose worker died is retried this many times, then failed
    stale_after_s: float = 120.0  # a running job with no heartbeat for this long lost its worker
    fitness_metric: str = "default"  # verifier.core.train.fitness: default | accuracy | likelihood | bpb
    fitness_feedback: bool = True  # off: parents are drawn uniformly, ignoring fitness (ablation)
    literature: bool = True  # off: the proposer gets no references from the knowledge engine (ablation)
    seed_parents_only: bool = False  # on: every parent is a seed design ("Base" ablation)
    # The designer's random choices: None draws fresh each job; an integer makes the run's n-th design
    # job draw from Random("<seed>:<n>"), so two runs with one seed differ only in their settings.
    random_seed: int | None = None

    def selection(self) -> SelectionSettings:
        return SelectionSettings(
            top_fraction=self.top_fraction, explore_prob=self.explore_prob, mix=dict(self.mix),
            reverify_fraction=self.reverify_fraction, use_fitness=self.fitness_feedback,
            seeds_only=self.seed_parents_only,
        )

    @staticmethod
    def default_timeout(rung: str) -> float:
        """The timeout a rung gets unless set by hand: from its cost estimate."""
        return timeout_s(rung)

    def timeout_for(self, rung: str) -> float:
        """Seconds a verification at `rung` may run: the hand-set value, else from the rung's estimate."""
        if rung in self.verify_timeout_s:
            return float(self.verify_timeout_s[rung])
        return self.default_timeout(rung)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> LoopSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known}).validated()

    def updated(self, changes: dict[str, Any]) -> LoopSettings:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(unknown)}")
        return LoopSettings(**{**self.to_dict(), **changes}).validated()

    def validated(self) -> LoopSettings:
        def positive_int(name: str, low: int = 0) -> None:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise SettingsError(f"{name} must be an integer ≥ {low}, got {value!r}")

        positive_int("design_workers")
        positive_int("verify_workers")
        positive_int("max_designs")
        positive_int("max_backlog")
        positive_int("max_screen_backlog")
        positive_int("max_attempts", 1)
        if self.designer not in DESIGNERS:
            raise SettingsError(f"designer must be one of {', '.join(DESIGNERS)}, got {self.designer!r}")
        if not isinstance(self.mix, dict) or set(self.mix) - {"scratch", "mutation", "crossover"}:
            raise SettingsError("mix must map scratch/mutation/crossover to weights")
        if any(not isinstance(v, (int, float)) or v < 0 for v in self.mix.values()) or sum(self.mix.values()) <= 0:
            raise SettingsError("mix weights must be non-negative and not all zero")
        for name in ("explore_prob", "top_fraction", "reverify_fraction"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise SettingsError(f"{name} must be between 0 and 1, got {value!r}")
        if not isinstance(self.verify_timeout_s, dict):
            raise SettingsError("verify_timeout_s must map rung names to seconds")
        for rung, seconds in self.verify_timeout_s.items():
            try:
                get_rung(rung)
            except KeyError:
                raise SettingsError(f"the timeout of {rung} is for an unknown rung") from None
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 < seconds < float("inf"):
                raise SettingsError(f"the timeout of {rung} must be a positive number of seconds, got {seconds!r}")
        if self.fitness_metric not in (DEFAULT_METRIC, *METRICS):
            raise SettingsError(f"fitness_metric must be {DEFAULT_METRIC} or one of {', '.join(METRICS)}")
        for name in ("fitness_feedback", "literature", "seed_parents_only"):
            if not isinstance(getattr(self, name), bool):
                raise SettingsError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.random_seed is not None and (not isinstance(self.random_seed, int) or isinstance(self.random_seed, bool)):
            raise SettingsError(f"random_seed must be an integer or null, got {self.random_seed!r}")
        if not isinstance(self.stale_after_s, (int, float)) or self.stale_after_s < 10:
            raise SettingsError("stale_after_s must be at least 10 seconds")
        return self


# name: (label, the settings it changes). "full" changes nothing.
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "full": ("Full", {}),
    "no_feedback": ("Without experiment feedback", {"fitness_feedback": False}),
    "no_literature": ("Without literature", {"literature": False}),
    "base": ("Base (parents only from the seeds)", {"seed_parents_only": True}),
}
ABLATION_FIELDS = ("fitness_feedback", "literature", "seed_parents_only")


def preset_settings(preset: str, diff: dict[str, Any] | None = None) -> LoopSettings:
    """The settings of a new run: the defaults, the preset's switches, then any other diff on top."""
    if not isinstance(preset, str) or preset not in PRESETS:
        raise SettingsError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    if diff is not None and not isinstance(diff, dict):
        raise SettingsError("the settings diff must map setting names to values")
    return LoopSettings().updated({**PRESETS[preset][1], **(diff or {})})


def preset_of(settings: LoopSettings) -> str:
    """The preset whose ablation switches these settings have ("custom": none has them)."""
    defaults = LoopSettings()
    for name, (_, changes) in PRESETS.items():
        if all(getattr(settings, f) == changes.get(f, getattr(defaults, f)) for f in ABLATION_FIELDS):
            return name
    return "custom"


def settings_diff(settings: LoopSettings) -> dict[str, Any]:
    """What differs from the defaults: how runs that share the database are told apart."""
    defaults = LoopSettings().to_dict()
    return {k: v for k, v in settings.to_dict().items() if defaults.get(k) != v}
