"""The ladder of scales as configuration: what each rung trains, on how many tokens, and evaluates.

The GPU rungs follow the paper (14M ... 350M: reference shapes, tokens per parameter, learning
rates, 2,048-token context, 0.5M-token batches). The CPU rungs ("micro",
"tiny") and the "test" rung exist so the whole loop runs on a laptop-class CPU in minutes; with a
32k vocabulary their embedding and LM head dominate, which is fine for checking the machinery.

A rung's size target is the *non-embedding* parameter count of the reference GPT shape
(12 * d_model^2 * n_block), which is what the size tuner fits a design to. Training tokens are
tokens-per-parameter times the rung's nominal size (14M x 50 = 700M tokens), as in the paper.

This module is the one definition of the ladder as the evolution loop uses it, too: the order of
the rungs (`LADDER`), their default budgets (`rung_budget`: 4x per rung down from 1 at the top, the
paper's ratio, whatever the rungs are), which rungs are open (`open_rungs`: the paper's rule), a
design's next rung (`next_rung`), and what a verification costs and may take (`est_seconds`,
`timeout_s`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

BATCH_TOKENS = 2**19  # "0.5M tokens" per optimizer step on the GPU rungs (256 x 2,048)
GPU_CONTEXT = 2048

# The local (offline) lm-eval tasks in <data_dir>/lm_eval_tasks, and the stock lm-eval task each
# one stands for (used when the data directory was prepared online and has no local tasks).
STOCK_TASK = {
    "piqa_local": "piqa",
    "hellaswag_local": "hellaswag",
    "arc_easy_local": "arc_easy",
    "arc_challenge_local": "arc_challenge",
    "openbookqa_local": "openbookqa",
    "winogrande_local": "winogrande",
    "boolq_local": "boolq",
    "copa_local": "copa",
    "lambada_openai_local": "lambada_openai",
    "blimp_local": "blimp",
    "wikitext_local": "wikitext",
}

# Random-choice accuracy per task (the fitness subtracts it): 1 / number of choices; BLiMP pairs
# 0.5; LAMBADA (exact next word) 0. Tasks without a baseline (WikiText perplexity) are reported
# but do not enter the fitness. Keys are stock names; `baseline_for` maps local names onto them.
RANDOM_BASELINES: dict[str, float] = {
    "piqa": 0.5,
    "hellaswag": 0.25,
    "arc_easy": 0.25,
    "arc_challenge": 0.25,
    "openbookqa": 0.25,
    "winogrande": 0.5,
    "boolq": 0.5,
    "copa": 0.5,
    "lambada_openai": 0.0,
    "blimp": 0.5,
    "sciq": 0.25,
    "swag": 0.25,
    "mathqa": 0.2,
    "wsc273": 0.5,
}

FULL_TASKS = (
    "piqa_local", "hellaswag_local", "arc_easy_local", "arc_challenge_local", "openbookqa_local",
    "winogrande_local", "boolq_local", "copa_local", "lambada_openai_local", "blimp_local",
)
CPU_TASKS = FULL_TASKS
TEST_TASKS = ("piqa_local", "lambada_openai_local")


def stock_name(task: str) -> str:
    return STOCK_TASK.get(task, task.removesuffix("_local"))


def baseline_for(task: str, baselines: dict[str, float] | None = None) -> float | None:
    """The random-choice baseline of a task, by its local or stock name (None: not an accuracy task)."""
    table = RANDOM_BASELINES if baselines is None else baselines
    if task in table:
        return table[task]
    return table.get(stock_name(task))


@dataclass(frozen=True)
class Rung:
    name: str
    d_model: int  # reference shape: where the size tuner starts
    n_block: int
    nominal_params: int  # the rung's name as a number (14M ...): tokens = tokens_per_param * this
    tokens_per_param: float
    lr: float
    context_length: int
    batch_tokens: int  # tokens per optimizer step
    tasks: tuple[str, ...]
    eval_limit: int | None  # examples per lm-eval task (None: all); per subtask for a group
    val_tokens: int  # held-out tokens for validation perplexity
    reference_tokens_per_s: float  # a plain GPT at this shape (H100 for GPU rungs, 2-core CPU else)
    eval_seconds: float = 300.0  # evaluation and setup time for the cost estimate (GPU: minutes)
    slow_factor: float = 10.0  # a step slower than slow_factor x the reference step is "too slow"
    size_tolerance: float = 0.2
    device: str = "cuda"  # where the rung is meant to run ("cuda" or "cpu")
    notes: str = ""
    # Per-task exceptions to eval_limit. BLiMP is a group of 67 subtasks and lm-eval applies a limit
    # per subtask, so at the CPU rungs it would otherwise cost 67x a plain task (85% of the requests).
    eval_limits: dict[str, int | None] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # "train": train and evaluate (fitness from lm-eval); "screen": the cheap first stage, a short
    # language-model run plus synthetic probes, scored by verifier.core.screen (docs/VERIFIER.md).
    kind: str = "train"
    # Measured seed-to-seed standard deviation per score component (and of the score), with how
    # and when it was measured; empty until measured.
    noise: dict[str, Any] = field(default_factory=dict)
    # The learning-rate schedule's horizon in tokens (None: the rung's own train_tokens). A rung that is
    # the first steps of a longer run sets that run's tokens, so its steps are that run's first steps.
    schedule_tokens: int | None = None

    def seed_noise(self, metric: str) -> float | None:
        """The measured seed-to-seed std of this rung's fitness under `metric` (None: not measured).

        At a screen rung, the screen score's is None: each component's stderr already is the larger
        of its sampling error and its measured noise (verifier.core.screen.components), so adding the
        score's noise again would count it twice; a run selecting on bpb gets the bpb's noise."""
        if self.kind == "screen":
            value = self.noise.get("lm_bpb") if metric == "bpb" else None  # bpb alone has no stderr
        else:
            value = self.noise.get(f"fitness:{metric}")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def limit_for(self, task: str) -> int | None:
        """Examples (per subtask) this rung evaluates of `task`."""
        return self.eval_limits.get(task, self.eval_limit)

    @property
    def target_params(self) -> int:
        """Non-embedding parameters of the reference GPT shape (12 d^2 per block)."""
        return 12 * self.d_model * self.d_model * self.n_block

    @property
    def train_tokens(self) -> int:
        return int(self.tokens_per_param * self.nominal_params)

    @property
    def schedule_steps(self) -> int:
        """Optimizer steps the learning-rate schedule spans (total_steps unless `schedule_tokens` is set)."""
        if self.schedule_tokens is None:
            return self.total_steps
        return max(self.total_steps, -(-self.schedule_tokens // (self.batch_seqs * self.context_length)))

    @property
    def batch_seqs(self) -> int:
        return max(1, self.batch_tokens // self.context_length)

    @property
    def total_steps(self) -> int:
        return max(1, -(-self.train_tokens // (self.batch_seqs * self.context_length)))

    @property
    def step_time_limit_s(self) -> float:
        """The runtime monitor's limit for one optimizer step."""
        return self.slow_factor * self.batch_tokens / self.reference_tokens_per_s

    @property
    def budget(self) -> int:
        """Default number of verifications the evolution may spend here (`rung_budget`)."""
        return rung_budget(self.name)

    @property
    def est_seconds(self) -> float:
        """Wall time of one verification of a plain GPT at this rung on its reference device (one H100
        for GPU rungs, the 2-core CPU for CPU rungs): training at the reference throughput plus
        evaluation."""
        return self.train_tokens / self.reference_tokens_per_s + self.eval_seconds

    @property
    def est_gpu_seconds(self) -> float:
        """GPU time of one verification (0 for CPU rungs)."""
        return self.est_seconds if self.device == "cuda" else 0.0

    @property
    def timeout_s(self) -> float:
        """How long a verification at this rung may run before it is given up (`timeout_s`)."""
        return timeout_s(self)

    def with_overrides(self, **changes: Any) -> Rung:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "d_model": self.d_model, "n_block": self.n_block,
            "target_params": self.target_params, "nominal_params": self.nominal_params,
            "tokens_per_param": self.tokens_per_param, "train_tokens": self.train_tokens, "lr": self.lr,
            "context_length": self.context_length, "batch_tokens": self.batch_tokens,
            "total_steps": self.total_steps, "schedule_steps": self.schedule_steps, "budget": self.budget, "tasks": list(self.tasks),
            "eval_limit": self.eval_limit, "eval_limits": dict(self.eval_limits), "val_tokens": self.val_tokens,
            "step_time_limit_s": self.step_time_limit_s, "size_tolerance": self.size_tolerance,
            "device": self.device, "est_seconds": self.est_seconds, "timeout_s": self.timeout_s,
            "kind": self.kind, "noise": dict(self.noise),
        }


def _gpu(name: str, d: int, n: int, nominal: float, tpp: int, lr: float, ref_tps: float) -> Rung:
    return Rung(
        name=name, d_model=d, n_block=n, nominal_params=int(nominal), tokens_per_param=tpp, lr=lr,
        context_length=GPU_CONTEXT, batch_tokens=BATCH_TOKENS, tasks=FULL_TASKS,
        eval_limit=None, val_tokens=2**21, reference_tokens_per_s=ref_tps,
    )


# Measured with benchmarks/bench_noise.py (sample std of 3 training seeds of the GPT seed, with
# evaluation; perplexities left out: at this size they span orders of magnitude). `fitness:<metric>`
# is what paired comparisons and F's std add for a rung verified once (Rung.seed_noise).
MICRO_NOISE: dict[str, Any] = {
    "fitness:accuracy": 0.00355,
    "fitness:bpb": 0.02677,
    "fitness:likelihood": 0.01454,
    "val_bpb": 0.02677,
    "val_loss": 0.07144,
    "arc_challenge_local.acc": 0.02887,
    "arc_challenge_local.acc_norm": 0.02517,
    "arc_challenge_local.logprob_per_byte": 0.02204,
    "arc_challenge_local.margin": 0.0077,
    "arc_easy_local.acc": 0.01528,
    "arc_easy_local.acc_norm": 0.02517,
    "arc_easy_local.logprob_per_byte": 0.02308,
    "arc_easy_local.margin": 0.00706,
    "blimp_local.acc": 0.03005,
    "blimp_local.logprob_per_byte": 0.03344,
    "blimp_local.margin": 0.00253,
    "boolq_local.acc": 0.0,
    "boolq_local.logprob_per_byte": 0.07848,
    "boolq_local.margin": 0.0634,
    "copa_local.acc": 0.01155,
    "copa_local.acc_norm": 0.01,
    "copa_local.logprob_per_byte": 0.00876,
    "copa_local.margin": 0.00532,
    "hellaswag_local.acc": 0.00577,
    "hellaswag_local.acc_norm": 0.01155,
    "hellaswag_local.logprob_per_byte": 0.02444,
    "hellaswag_local.margin": 0.00164,
    "lambada_openai_local.acc": 0.0,
    "lambada_openai_local.logprob_per_byte": 0.01107,
    "openbookqa_local.acc": 0.00577,
    "openbookqa_local.acc_norm": 0.02082,
    "openbookqa_local.logprob_per_byte": 0.02235,
    "openbookqa_local.margin": 0.00615,
    "piqa_local.acc": 0.00577,
    "piqa_local.acc_norm": 0.03055,
    "piqa_local.logprob_per_byte": 0.00588,
    "piqa_local.margin": 0.00299,
    "winogrande_local.acc": 0.01,
    "winogrande_local.logprob_per_byte": 0.03168,
    "winogrande_local.margin": 0.0016,
    "measured": "2026-12-05: gpt seed, verify --rung micro with --seed 42, 1, 2 (sample std of 3)",
}

# Tiny, without evaluation (benchmarks/bench_noise.py --rung tiny --no-eval; each seed ~945 CPU-s at
# one thread): the loss numbers only, so a run selecting on bpb gets tiny's noise and the
# likelihood and accuracy fitness at tiny stay unmeasured (None: nothing is invented).
TINY_NOISE: dict[str, Any] = {
    "fitness:bpb": 0.02242,
    "val_bpb": 0.02242,
    "val_loss": 0.06002,
    "measured": "2026-12-06: gpt seed, verify --rung tiny --no-eval with --seed 42, 1, 2 (sample std of 3)",
}

# CPU rungs: sized so one seed trains and evaluates in minutes on 2 cores (see docs/VERIFIER.md).
# Their nominal size is a round number near the non-embedding target; their reference throughputs
# are what the GPT seed reaches on an idle 2-core box, and their "too slow" factor is generous
# because shared CPUs are noisy.
MICRO = Rung(
    name="micro", d_model=128, n_block=4, nominal_params=2**20, tokens_per_param=0.25,
    lr=2e-3, context_length=256, batch_tokens=8 * 256, tasks=CPU_TASKS, eval_limit=100,
    eval_limits={"blimp_local": 5},
    val_tokens=2**15, reference_tokens_per_s=1500.0, eval_seconds=300.0, slow_factor=50.0, device="cpu",
    notes="about 0.8M non-embedding parameters, 262k tokens (128 steps): minutes per design on 2 CPU cores",
    noise=MICRO_NOISE,
)
TINY = Rung(
    name="tiny", d_model=256, n_block=5, nominal_params=2**22, tokens_per_param=0.25,
    lr=1.5e-3, context_length=512, batch_tokens=8 * 512, tasks=CPU_TASKS, eval_limit=200,
    eval_limits={"blimp_local": 10},
    val_tokens=2**16, reference_tokens_per_s=600.0, eval_seconds=900.0, slow_factor=50.0, device="cpu",
    notes="about 4M non-embedding parameters, 1M tokens (256 steps): about half an hour per design on 2 CPU cores",
    noise=TINY_NOISE,
)
TEST = Rung(
    name="test", d_model=64, n_block=2, nominal_params=2**16, tokens_per_param=0.25,
    lr=3e-3, context_length=128, batch_tokens=4 * 128, tasks=TEST_TASKS, eval_limit=10,
    val_tokens=2**12, reference_tokens_per_s=4000.0, eval_seconds=30.0, slow_factor=100.0, device="cpu",
    notes="for tests: a full verify in seconds",
)

# The screen: the loop's first rung. A short language-model run and the synthetic probes
# (verifier.core.probes); its fitness is the screen score (verifier.core.screen.score). Budget: 4x
# micro's. The language-model half is tiny's own run cut after 30 of its 256 steps (123k tokens at
# 256x5, context 512, on tiny's learning-rate schedule, so no early anneal): a screen that anneals
# early ranks fast starters first, and designs with recurrent units (RWKV-6, Mamba-2) overtake them
# later (docs/VERIFIER.md "The screen as tiny's first steps"). The screens before it are kept off the
# ladder, so that the reports they made are re-scored by the definition they were made with.
SCREEN_TASKS = ("piqa_local", "arc_easy_local", "hellaswag_local")
# Seed-to-seed standard deviation of each raw screen number (probe accuracy, bpb) and of the score
# (sample std of 3 seeds of the GPT seed; benchmarks/bench_noise.py --rung screen). Components use it
# as a floor on their stderr. The probes are the same as the earlier screens', so theirs carry over.
SCREEN_PROBE_NOISE: dict[str, float] = {
    "probe_in_context_recall": 0.0061, "probe_fuzzy_recall": 0.0108, "probe_noisy_recall": 0.0094,
    "probe_selective_copying": 0.0180, "probe_compression": 0.0007, "probe_memorization": 0.0905,
}
SCREEN_NOISE: dict[str, Any] = {
    **SCREEN_PROBE_NOISE, "lm_bpb": 0.0182, "score": 0.0190,
    "measured": "2026-12-06: gpt seed, verify --rung screen with --seed 42, 1, 2 (sample std of 3; 182-211 CPU-s each)",
}
SCREEN = Rung(
    name="screen", d_model=TINY.d_model, n_block=TINY.n_block, nominal_params=TINY.nominal_params,
    tokens_per_param=30 * TINY.batch_tokens / TINY.nominal_params, lr=TINY.lr,
    context_length=TINY.context_length, batch_tokens=TINY.batch_tokens, tasks=SCREEN_TASKS, eval_seconds=150.0,
    eval_limit=20, val_tokens=2**14, reference_tokens_per_s=TINY.reference_tokens_per_s, slow_factor=100.0,
    size_tolerance=TINY.size_tolerance, device="cpu", kind="screen", schedule_tokens=TINY.train_tokens,
    notes="tiny's first 30 steps (123k tokens at 256x5, on tiny's schedule) plus six probes: minutes per design on 2 CPU cores",
    # reference_bpb: the GPT seed's screen bpb (mean of seeds 42, 1, 2: 2.601, 2.603, 2.571), the zero of lm_bpb.
    extra={"probes": {}, "reference_bpb": 2.592},  # probes: overrides of verifier.core.probes.ProbeConfig
    noise=SCREEN_NOISE,
)
# The second screen (2026-12-06): micro's model and data cut short, 48 of micro's 128 steps (98k
# tokens at 128x4) with its own warm-up and cosine. Its reports: evidence/*/screen-micro48/.
SCREEN_MICRO48 = replace(
    SCREEN, name="screen-micro48", d_model=128, n_block=4, nominal_params=2**20, tokens_per_param=0.09375,
    lr=2e-3, context_length=256, batch_tokens=8 * 256, val_tokens=2**13, reference_tokens_per_s=1500.0,
    size_tolerance=0.2, schedule_tokens=None,
    notes="the second screen: 98k tokens at micro's shape (its first 48 steps' worth) plus six probes",
    extra={"probes": {}, "reference_bpb": 2.523},  # mean of seeds 42, 1, 2: 2.519, 2.523, 2.528
    noise={**SCREEN_PROBE_NOISE, "lm_bpb": 0.0047, "score": 0.0163,
           "measured": "2026-12-06: gpt seed, verify --rung screen with --seed 42, 1, 2 (sample std of 3; 66-70 CPU-s each)"},
)
# The first screen (2026-12-05 to 12-06): 65k tokens at 64x3. Its reports: evidence/*/screen-65k*.
SCREEN_65K = replace(
    SCREEN_MICRO48, name="screen-65k", d_model=64, n_block=3, nominal_params=2**16, tokens_per_param=1.0, lr=3e-3,
    context_length=128, batch_tokens=8 * 128, reference_tokens_per_s=4000.0,
    size_tolerance=0.3,  # the seeds span 103k-170k parameters at 64x2: room for all
    notes="the first screen: 65k tokens at about 64x3 plus six probes",
    extra={"probes": {}, "reference_bpb": 2.555},
    noise={
        "probe_in_context_recall": 0.0053, "probe_fuzzy_recall": 0.0094, "probe_noisy_recall": 0.0083,
        "probe_selective_copying": 0.0169, "probe_compression": 0.0007, "probe_memorization": 0.0877,
        "lm_bpb": 0.0080, "score": 0.0146,
        "measured": "2026-12-05: gpt seed, verify --rung screen with --seed 42, 1, 2 (sample std of 3)",
    },
)

LADDER: dict[str, Rung] = {
    rung.name: rung
    for rung in (
        SCREEN,
        MICRO,
        TINY,
        _gpu("14M", 128, 6, 14e6, 50, 1e-3, 3.68e6),
        _gpu("31M", 256, 6, 31e6, 40, 1e-3, 2.67e6),
        _gpu("70M", 512, 6, 70e6, 30, 1e-3, 1.48e6),
        _gpu("125M", 768, 12, 125e6, 20, 6e-4, 5.23e5),
        _gpu("350M", 1024, 24, 350e6, 20, 3e-4, 1.87e5),
    )
}
EXTRA_RUNGS: dict[str, Rung] = {TEST.name: TEST, SCREEN_MICRO48.name: SCREEN_MICRO48, SCREEN_65K.name: SCREEN_65K}


def get_rung(name: str) -> Rung:
    """A rung by name ("screen", "micro", "tiny", "14M" ... "350M", or "test"); names are case-insensitive."""
    for table in (LADDER, EXTRA_RUNGS):
        for key, rung in table.items():
            if key.lower() == name.lower():
                return rung
    raise KeyError(f"unknown rung {name!r}; rungs are {', '.join([*LADDER, *EXTRA_RUNGS])}")


# ---- the ladder as the evolution loop spends it -----------------------------------------------------

BUDGET_RATIO = 4  # the paper: each rung gets 4x the verifications of the rung above it
DEFAULT_SEED = 42  # the paper's training seed; a re-verification of a close call uses the next free one
# A verification is given up after TIMEOUT_FACTOR x its cost estimate plus TIMEOUT_FLOOR_S: the
# estimate is for a plain GPT on an idle reference device, and a design may be slower (the runtime
# monitor stops one that is more than `slow_factor` x slower per step), or share a busy machine.
TIMEOUT_FACTOR = 3.0
TIMEOUT_FLOOR_S = 900.0


def rung_names() -> list[str]:
    """The ladder's rungs in order, cheapest first (the `test` rung is not a step of the ladder)."""
    return list(LADDER)


def rung_budget(name: str) -> int:
    """Default verifications at a rung: 1 at the top, BUDGET_RATIO x more per rung down (0 off the ladder)."""
    names = rung_names()
    if name not in names:
        return 0
    return BUDGET_RATIO ** (len(names) - 1 - names.index(name))


def default_budgets() -> dict[str, int]:
    """Verifications per rung (each lower rung gets 4x the one above), for the evolution settings."""
    return {name: rung_budget(name) for name in LADDER}


def open_rungs(budget_left: Mapping[str, int]) -> list[str]:
    """The rungs that may be spent now (the paper's rule), in the caller's order (cheapest first):
    every rung with budget left, except the top rung of the ladder (350M), which opens only when it
    is the lowest rung with budget left, every cheaper rung having spent its budget."""
    with_budget = [n for n, left in budget_left.items() if left > 0]
    top = rung_names()[-1]
    return [n for n in with_budget if n != top or with_budget[0] == top]


def next_rung(verified: Iterable[str], rungs: Sequence[str] | None = None,
              available: Iterable[str] | None = None) -> str | None:
    """A design's next rung: the first of `rungs` (a run's rungs, cheapest first; default the whole
    ladder) above every rung it has been verified at, and among `available` if given (the open rungs:
    "the lowest unverified rung with budget"); None when there is none. A rung skipped on the way is
    not gone back to; a rung off the ladder (`test`) is a step only of a run that lists it."""
    order = list(LADDER) if rungs is None else list(rungs)
    ladder = list(LADDER)
    done = set(verified)

    def climbed(name: str) -> bool:
        return name in done or name in LADDER and any(v in LADDER and ladder.index(v) >= ladder.index(name)
                                                      for v in done)

    floor = max((i for i, name in enumerate(order) if climbed(name)), default=-1)
    allowed = None if available is None else set(available)
    return next((n for n in order[floor + 1:] if allowed is None or n in allowed), None)


def timeout_s(rung: Rung | str) -> float:
    """The wall-clock limit of one verification at `rung`: TIMEOUT_FLOOR_S + TIMEOUT_FACTOR x its cost
    estimate (350M: about 10.4 h estimated on an H100, so 32 h; micro: 8 min on 2 CPU cores, 38 min)."""
    the_rung = get_rung(rung) if isinstance(rung, str) else rung
    return TIMEOUT_FLOOR_S + TIMEOUT_FACTOR * the_rung.est_seconds
