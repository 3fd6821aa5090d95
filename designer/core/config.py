"""What a designer run is allowed to do: which model plays each role, on which provider, and the limits.

Defaults follow the paper's reference implementation (see genesys-facts.md): a proposal passes at a
review score of 4/5 within 10 attempts, the observer accepts a unit at 3/5, a unit gets up to 7
debugging attempts, and a design stops after 3 failed rounds or $2 of implementation cost. Keys are
never stored here: a provider names the environment variable that holds its key.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any

ROLES = ("proposer", "reviewer", "planner", "coder", "observer")
PROVIDER_KINDS = ("anthropic", "openai", "compatible")
DEFAULT_KEY_ENV = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY", "compatible": "GENESYS_LLM_API_KEY"}
DEFAULT_MODELS = {"anthropic": "claude-sonnet-5-5", "openai": "gpt-4.1", "compatible": ""}


@dataclass
class ProviderSettings:
    """How to reach one provider. `kind` picks the adapter; `compatible` is any OpenAI-style endpoint."""

    kind: str
    base_url: str = ""
    api_key_env: str = ""
    timeout_s: float = 120.0
    max_retries: int = 4
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0

    def __post_init__(self) -> None:
        if self.kind not in PROVIDER_KINDS:
            raise ValueError(f"unknown provider kind {self.kind!r}; expected one of {PROVIDER_KINDS}")
        if not self.api_key_env:
            self.api_key_env = DEFAULT_KEY_ENV[self.kind]

    def api_key(self) -> str | None:
        value = os.environ.get(self.api_key_env, "").strip()
        return value or None

    def ready(self) -> tuple[bool, str]:
        """Whether a call could be made, and why not. A compatible endpoint needs a URL, not a key."""
        if self.kind == "compatible":
            return (bool(self.base_url), "" if self.base_url else "no base URL for the OpenAI-compatible endpoint")
        if self.api_key() is None:
            return False, f"environment variable {self.api_key_env} is not set"
        return True, ""


@dataclass
class RoleSettings:
    model: str
    provider: str = "anthropic"
    max_tokens: int = 8192
    temperature: float | None = None


@dataclass
class Ablation:
    """The paper's Table 4 switches; all off is the full pipeline."""

    unit_by_unit: bool = True
    checker: bool = True
    planner: bool = True
    observer: bool = True
    direct: bool = False  # one prompt writes the whole design: no planner, checker feedback or observer

    @property
    def name(self) -> str:
        if self.direct:
            return "direct"
        off = [n for n in ("unit_by_unit", "checker", "planner", "observer") if not getattr(self, n)]
        return "full" if not off else "no_" + "+no_".join(off)


@dataclass
class Limits:
    proposal_threshold: int = 4
    max_proposal_attempts: int = 10
    observer_threshold: int = 3
    max_debug_attempts: int = 7  # retries of one unit after its first try
    max_failed_rounds: int = 3
    max_parse_retries: int = 2  # a role whose reply does not parse is asked again this often
    max_new_units: int = 16  # a guard against a design that keeps declaring new children
    run_budget_dollars: float = 5.0
    implementation_budget_dollars: float = 2.0


@dataclass
class DesignerConfig:
    """Everything `pipeline.design` needs besides the parents. Plain data: round-trips through dicts."""

    roles: dict[str, RoleSettings] = field(default_factory=dict)
    providers: dict[str, ProviderSettings] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    ablation: Ablation = field(default_factory=Ablation)
    prompt_version: str = "v1"
    use_gp: bool = False  # force the no-LLM genetic-programming designer
    theme: str = ""
    knowledge_path: str = ""
    literature: bool = True  # False: the proposer gets no references (the "no literature" ablation)
    seed: int | None = None
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)  # model -> ($/Mtok in, out)
    check_config: dict[str, Any] = field(default_factory=dict)  # CheckConfig fields for the checker

    def provider_for(self, role: str) -> ProviderSettings:
        spec = self.roles[role]
        if spec.provider not in self.providers:
            self.providers[spec.provider] = ProviderSettings(kind=spec.provider)
        return self.providers[spec.provider]

    def active_roles(self) -> list[str]:
        roles = ["proposer", "reviewer", "coder"]
        if self.ablation.planner and not self.ablation.direct:
            roles.append("planner")
        if self.ablation.observer and not self.ablation.direct:
            roles.append("observer")
        return roles

    def llm_ready(self) -> tuple[bool, str]:
        """Can every role the run needs reach its model? The reason names the first that cannot."""
        if self.use_gp:
            return False, "the genetic-programming designer was asked for"
        for role in self.active_roles():
            spec = self.roles.get(role)
            if spec is None or not spec.model:
                return False, f"no model is configured for the {role}"
            ok, why = self.provider_for(role).ready()
            if not ok:
                return False, f"{role}: {why}"
        return True, ""

    def models(self) -> dict[str, str]:
        return {role: spec.model for role, spec in self.roles.items()}

    def with_ablation(self, ablation: Ablation) -> DesignerConfig:
        return replace(self, ablation=ablation)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DesignerConfig:
        data = dict(data)
        return cls(
            roles={r: RoleSettings(**s) for r, s in data.pop("roles", {}).items()},
            providers={n: ProviderSettings(**s) for n, s in data.pop("providers", {}).items()},
            limits=Limits(**data.pop("limits", {})),
            ablation=Ablation(**data.pop("ablation", {})),
            prices={m: (float(p[0]), float(p[1])) for m, p in data.pop("prices", {}).items()},
            **data,
        )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> DesignerConfig:
        """Configuration from environment variables, for runs outside the web app.

        GENESYS_LLM_PROVIDER (anthropic | openai | compatible; default: the first whose key is set, or
        compatible when GENESYS_LLM_BASE_URL is set), GENESYS_LLM_BASE_URL, GENESYS_LLM_MODEL (every
        role), GENESYS_<ROLE>_MODEL (one role), GENESYS_LLM_BUDGET (dollars per run).
        """
        env = os.environ if environ is None else environ
        base_url = env.get("GENESYS_LLM_BASE_URL", "")
        kind = env.get("GENESYS_LLM_PROVIDER", "")
        if not kind:
            if env.get("ANTHROPIC_API_KEY"):
                kind = "anthropic"
            elif env.get("OPENAI_API_KEY"):
                kind = "openai"
            else:
                kind = "compatible" if base_url else "anthropic"
        provider = ProviderSettings(kind=kind, base_url=base_url)
        model = env.get("GENESYS_LLM_MODEL", "") or DEFAULT_MODELS[kind]
        roles = {r: RoleSettings(model=env.get(f"GENESYS_{r.upper()}_MODEL", model), provider=kind) for r in ROLES}
        limits = Limits()
        if env.get("GENESYS_LLM_BUDGET"):
            limits.run_budget_dollars = float(env["GENESYS_LLM_BUDGET"])
        return cls(roles=roles, providers={kind: provider}, limits=limits)
