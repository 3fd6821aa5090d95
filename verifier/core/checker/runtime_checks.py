"""The runtime stages, executed only inside the sandboxed child: load, init, forward (with the
behavioural fingerprint), causality, gradients; the training run and the performance figures live in
`training_probe`.

Every stage reports findings and figures through the child's channel as it goes, so a check that
is killed half-way still says how far it got. Causality and determinism run in eval mode (dropout
is common in designs), gradients and training in train mode.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from ..gau.loader import load_module
from ..model.lm import GenesysLM, LMConfig
from .categories import (
    ERROR,
    FORWARD_ERROR,
    INIT_ERROR,
    NAN_INF,
    NO_GRADIENT,
    NON_CAUSAL,
    SANDBOX_VIOLATION,
    SHAPE_MISMATCH,
    WARNING,
    classify_exception,
)
from .config import CheckConfig
from .fingerprint import fingerprint

MAX_MESSAGE = 2000


def composed_frames(exc: BaseException) -> list[list]:
    """[line, function] of each traceback frame in the composed design module, outermost first."""
    return [
        [f.lineno, f.name]
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename.startswith("<composed:")
    ]


class _ParameterUse(TorchFunctionMode):
    """Records which parameters enter any torch function during a forward pass."""

    def __init__(self, param_ids: set[int]):
        super().__init__()
        self.param_ids = param_ids
        self.used: set[int] = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        for leaf in tree_flatten((args, kwargs))[0]:
            if isinstance(leaf, torch.Tensor) and id(leaf) in self.param_ids:
                self.used.add(id(leaf))
        return func(*args, **kwargs)


class RuntimeChecks:
    def __init__(self, job: dict[str, Any], send: Callable[[dict], None], tokens: torch.Tensor):
        self.job = job
        self.cfg = CheckConfig.from_dict(job["config"])
        self.send = send
        self.tokens = tokens
        self.source: str = job["source"]
        self.name: str = job.get("name", "design")
        self.placeholders: list[str] = job.get("placeholders", [])
        self.errors = 0
        self.module: Any = None
        self.gab: Any = None
        self.gab_config: dict = {}
        self.model: GenesysLM | None = None
        self.unit_of_param: dict[str, str | None] = {}
        self.generator = torch.Generator().manual_seed(self.cfg.seed)
        self.stage_messages: dict[str, list[str]] = {}

    # ---- reporting -------------------------------------------------------------------------------
    def finding(
        self,
        category: str,
        severity: str,
        message: str,
        stage: str,
        *,
        frames: list | None = None,
        unit: str | None = None,
        detail: str = "",
    ) -> None:
        if severity == ERROR:
            self.errors += 1
        self.stage_messages.setdefault(stage, []).append(message)
        self.send(
            {
                "event": "finding",
                "category": category,
                "severity": severity,
                "message": message[:MAX_MESSAGE],
                "stage": stage,
                "frames": frames or [],
                "unit": unit,
                "detail": detail[:MAX_MESSAGE],
            }
        )

    def figure(self, **values: Any) -> None:
        self.send({"event": "figures", "figures": values})

    def exception(self, exc: BaseException, default: str, stage: str, shapes: bool = True) -> None:
        text = f"{type(exc).__name__}: {exc}"
        category = classify_exception(type(exc).__name__, str(exc), default, shapes=shapes)
        self.finding(category, ERROR, text, stage, frames=composed_frames(exc))

    # ---- helpers ---------------------------------------------------------------------------------
    def batch(self, size: int) -> torch.Tensor:
        """`size` windows of real text, seq_len tokens each."""
        length = self.cfg.seq_len
        starts = torch.randint(0, len(self.tokens) - length - 1, (size,), generator=self.generator)
        return torch.stack([self.tokens[s : s + length] for s in starts.tolist()])

    def gau_class(self) -> type:
        return getattr(self.module, "GAUBase", torch.nn.Module)

    def _map_parameters(self) -> None:
        assert self.model is not None
        gau = self.gau_class()
        owners = {name: type(m).__name__ for name, m in self.model.named_modules() if isinstance(m, gau)}
        for pname, _ in self.model.named_parameters():
            parts = pname.split(".")[:-1]
            unit = None
            while parts:
                if ".".join(parts) in owners:
                    unit = owners[".".join(parts)]
                    break
                parts.pop()
            self.unit_of_param[pname] = unit

    # ---- stages ----------------------------------------------------------------------------------
    def load(self) -> bool:
        try:
            self.module = load_module(self.source, self.name)
            self.gab = self.module.GAB
            self.gab_config = dict(getattr(self.module, "gab_config", {}))
        except Exception as exc:
            self.exception(exc, INIT_ERROR, "load", shapes=False)
            return False
        return True

    def build(self, d_model: int | None = None, n_block: int | None = None) -> GenesysLM:
        config = LMConfig(
            vocab_size=self.cfg.vocab_size,
            d_model=d_model or self.cfg.d_model,
            n_block=n_block or self.cfg.n_block,
            context_length=self.cfg.seq_len,
            gab_config=self.gab_config,
        )
        torch.manual_seed(self.cfg.seed)
        return GenesysLM(config, self.gab)

    def init(self) -> bool:
        try:
            self.model = self.build()
        except Exception as exc:
            self.exception(exc, INIT_ERROR, "init", shapes=False)
            return False
        self._map_parameters()
        self.figure(
            params_non_embedding=self.model.num_params(non_embedding=True),
            params_total=self.model.num_params(non_embedding=False),
        )
        return True

    def forward(self) -> bool:
        assert self.model is not None
        model = self.model.eval()
        ids = self.batch(self.cfg.batch_size)
        try:
            times = []
            with torch.no_grad():
                for _ in range(3):
                    start = time.perf_counter()
                    logits = model(ids).logits
                    times.append(time.perf_counter() - start)
        except Exception as exc:
            self.exception(exc, FORWARD_ERROR, "forward")
            return False
        expected = (self.cfg.batch_size, self.cfg.seq_len, self.cfg.vocab_size)
        if tuple(logits.shape) != expected:
            self.finding(
                SHAPE_MISMATCH,
                ERROR,
                f"logits have shape {tuple(logits.shape)}, expected {expected}",
                "forward",
            )
            return False
        if not torch.isfinite(logits).all():
            unit = self._non_finite_unit(ids)
            where = f"; the first unit to output them is {unit}" if unit else ""
            self.finding(
                NAN_INF,
                ERROR,
                f"the forward pass (eval mode) produces NaN or Inf{where}",
                "forward",
                unit=unit,
            )
            return False
        self.figure(forward_seconds=sorted(times)[1])
        return self.take_fingerprint()

    def take_fingerprint(self) -> bool:
        """The behavioural fingerprint of the model as initialised (`fingerprint.py`); none for a tree
        with placeholder units, which is not the design yet."""
        assert self.model is not None
        if self.placeholders:
            return True
        cfg = self.cfg
        try:
            value = fingerprint(self.model, vocab_size=cfg.vocab_size, seq_len=cfg.seq_len, d_model=cfg.d_model,
                                n_block=cfg.n_block, seed=cfg.seed)
        except Exception as exc:
            self.exception(exc, FORWARD_ERROR, "forward")
            return False
        self.send({"event": "fingerprint", "value": value})
        return True

    def _eval_logits(self, ids: torch.Tensor) -> torch.Tensor:
        assert self.model is not None
        torch.manual_seed(self.cfg.seed)  # any sampling in eval mode repeats exactly
        with torch.no_grad():
            return self.model(ids).logits.float()

    def causality_positions(self) -> list[int]:
        L = self.cfg.seq_len
        fixed = {0, 1, 2, L // 4, L // 2, (3 * L) // 4, L - 2}
        extra = torch.randperm(L - 1, generator=self.generator).tolist()
        positions = sorted(p for p in fixed if 0 <= p < L - 1)
        for p in extra:
            if len(positions) >= max(self.cfg.causality_positions, len(fixed)):
                break
            if p not in positions:
                positions.append(p)
        return sorted(positions)

    def causality(self) -> bool:
        """Perturb the tokens after t with fresh random ones; the logits up to t must not move."""
        assert self.model is not None
        self.model.eval()
        ids = self.batch(self.cfg.causality_batch)
        try:
            base = self._eval_logits(ids)
            again = self._eval_logits(ids)
        except Exception as exc:
            self.exception(exc, FORWARD_ERROR, "causality")
            return False
        scale = max(1.0, float(base.abs().max()))
        tol = self.cfg.causality_atol * scale
        if (base - again).abs().max() > tol:
            self.finding(
                NON_CAUSAL,
                ERROR,
                "two identical eval-mode calls give different outputs: the design keeps "
                "state between calls or is random in eval mode, so its outputs depend on more than the "
                "inputs up to each position",
                "causality",
            )
            return False
        leak: tuple[int, int, float, torch.Tensor] | None = None  # (position, t, max diff, perturbed ids)
        positions = self.causality_positions()
        V = self.cfg.vocab_size
        for t in positions:
            perturbed = ids.clone()
            shift = torch.randint(1, V, perturbed[:, t + 1 :].shape, generator=self.generator)
            perturbed[:, t + 1 :] = (perturbed[:, t + 1 :] + shift) % V  # every later token changes
            try:
                out = self._eval_logits(perturbed)
            except Exception as exc:
                self.exception(exc, FORWARD_ERROR, "causality")
                return False
            diff = (out[:, : t + 1] - base[:, : t + 1]).abs().amax(dim=(0, 2))
            bad = (diff > tol).nonzero()
            if bad.numel():
                p = int(bad[0])
                if leak is None or p < leak[0]:
                    leak = (p, t, float(diff.max()), perturbed)
        self.figure(causality_positions_tested=len(positions))
        if leak is None:
            return True
        p, t, size, perturbed = leak
        unit = self._leaking_unit(ids, perturbed, t)
        where = f" The first unit whose output moves while its inputs do not is {unit}." if unit else ""
        self.finding(
            NON_CAUSAL,
            ERROR,
            f"not causal: the output at position {p} changes (by up to {size:.3g}) when "
            f"only the tokens after position {t} change.{where}",
            "causality",
            unit=unit,
        )
        self.figure(first_leaking_position=p)
        return False

    def _trace_units(self, ids: torch.Tensor) -> list[tuple[str, list[torch.Tensor], list[torch.Tensor]]]:
        """(unit, sequence-shaped input tensors, output tensors) of every unit call, in the order the
        calls finish (children before their parents), for one eval-mode forward pass."""
        assert self.model is not None
        gau = self.gau_class()
        L = self.cfg.seq_len
        calls: list[tuple[str, list[torch.Tensor], list[torch.Tensor]]] = []

        def seq_tensors(obj) -> list[torch.Tensor]:
            return [
                x.detach().float()
                for x in tree_flatten(obj)[0]
                if isinstance(x, torch.Tensor) and x.dim() >= 2 and x.shape[1] == L and x.is_floating_point()
            ]

        def hook(module, args, kwargs, output):
            calls.append((type(module).__name__, seq_tensors((args, kwargs)), seq_tensors(output)))

        handles = [
            m.register_forward_hook(hook, with_kwargs=True)
            for m in self.model.modules()
            if isinstance(m, gau)
        ]
        try:
            self._eval_logits(ids)
        finally:
            for h in handles:
                h.remove()
        return calls

    def _leaking_unit(self, ids: torch.Tensor, perturbed: torch.Tensor, t: int) -> str | None:
        """The first unit to finish whose inputs agree up to position t between the two runs while
        its outputs do not."""
        try:
            runs = [self._trace_units(ids), self._trace_units(perturbed)]
        except Exception:
            return None

        def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
            for x, y in zip(a, b, strict=False):
                if x.shape != y.shape:
                    return False
                tol = self.cfg.causality_atol * max(1.0, float(x.abs().max()))
                if (x[:, : t + 1] - y[:, : t + 1]).abs().max() > tol:
                    return False
            return True

        for (name, in_a, out_a), (_, in_b, out_b) in zip(runs[0], runs[1], strict=False):
            if same(in_a, in_b) and not same(out_a, out_b):
                return name
        return None

    def _non_finite_unit(self, ids: torch.Tensor) -> str | None:
        """The first unit to finish with NaN or Inf in its outputs while its inputs were finite."""
        try:
            calls = self._trace_units(ids)
        except Exception:
            return None
        for name, inputs, outputs in calls:
            if all(torch.isfinite(x).all() for x in inputs) and not all(
                torch.isfinite(y).all() for y in outputs
            ):
                return name
        return None

    def gradients(self) -> bool:
        """One training-mode step: a finite loss, and a finite gradient for every parameter used."""
        assert self.model is not None
        model = self.model.train()
        params = dict(model.named_parameters())
        tracker = _ParameterUse({id(p) for p in params.values()})
        ids = self.batch(self.cfg.batch_size)
        model.zero_grad(set_to_none=True)
        try:
            torch.manual_seed(self.cfg.seed)
            with tracker:
                loss = model(ids, labels=ids).loss
            if not torch.isfinite(loss):
                self.finding(NAN_INF, ERROR, f"the training loss is {float(loss)} (NaN or Inf)", "gradients")
                return False
            loss.backward()
        except Exception as exc:
            self.exception(exc, FORWARD_ERROR, "gradients")
            return False
        ok = True
        unused: list[str] = []
        for pname, p in params.items():
            unit = self.unit_of_param.get(pname)
            if not p.requires_grad:
                continue
            used = id(p) in tracker.used or p.grad is not None
            if not used:
                unused.append(pname)
            elif p.grad is None:
                ok = False
                self.finding(
                    NO_GRADIENT,
                    ERROR,
                    f"parameter {pname} is used in forward but gets no gradient "
                    "(detached, used under no_grad, or through .data)",
                    "gradients",
                    unit=unit,
                )
            elif not torch.isfinite(p.grad).all():
                ok = False
                self.finding(
                    NAN_INF, ERROR, f"the gradient of {pname} contains NaN or Inf", "gradients", unit=unit
                )
            elif not p.grad.any():
                self.finding(
                    NO_GRADIENT, WARNING, f"the gradient of {pname} is exactly zero", "gradients", unit=unit
                )
        ok = self._report_unused(unused) and ok
        self.figure(unused_parameters=len(unused), loss_initial=float(loss))
        model.zero_grad(set_to_none=True)
        return ok

    def _report_unused(self, unused: list[str]) -> bool:
        """Parameters never used in forward, one finding per unit with their count: a warning, as in
        the reference checker, unless the run's settings make it an error (`unused_parameters`)."""
        severity = ERROR if self.cfg.unused_parameters == "error" else WARNING
        by_unit: dict[str | None, list[str]] = {}
        for pname in unused:
            by_unit.setdefault(self.unit_of_param.get(pname), []).append(pname)
        for unit, names in by_unit.items():
            shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
            self.finding(
                NO_GRADIENT,
                severity,
                f"{len(names)} parameter{'s are' if len(names) > 1 else ' is'} never used in forward "
                f"(no gradient; only adds to the parameter count): {shown}",
                "gradients",
                unit=unit,
            )
        return not (unused and severity == ERROR)

    def violations_after(self, stage: str, guard_records: list[dict], start: int) -> None:
        """Report refused operations the design did not already fail on (it may have caught them)."""
        for record in guard_records[start:]:
            if any(record["reason"] in text for text in self.stage_messages.get(stage, [])):
                continue
            self.finding(
                SANDBOX_VIOLATION,
                ERROR,
                f"the design tried {record['reason']} (refused by the sandbox)",
                stage,
                frames=record.get("frames"),
            )
