"""Exact fast loglikelihood scoring: log-probabilities only where lm-eval reads them.

lm-eval's HFLM runs the whole LM head and a full-vocabulary log-softmax at every position of every
request, then keeps the continuation's positions. `score_requests` computes the same numbers from
the hidden states: it gathers the hidden state at each continuation position, applies the tied
head and the log-softmax there only (in chunks), and batches the model inputs by length. Requests
whose model input is a prefix of another's (the choices of one question with one-token answers,
or identical inputs) share one forward pass: a causal model's states on a prefix do not depend on
what follows. Inputs are cut exactly as HFLM cuts them (the last `max_length` tokens of
context + continuation, minus the final token) and right-padded with zeros as HFLM pads them.

`naive_scores` is the readable reference (one request at a time, full logits, HFLM's slicing);
`GenesysHFLM` is HFLM with `_loglikelihood_tokens` and `loglikelihood_rolling` answered here, so
tokenisation, request building, prefix tokens and rolling windows stay lm-eval's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..model import GenesysLM

Request = tuple[Sequence[int], Sequence[int]]  # (context tokens, continuation tokens)


def model_input(context: Sequence[int], continuation: Sequence[int], max_length: int) -> list[int]:
    """What HFLM feeds the model: the last max_length + 1 tokens of context + continuation, less the last."""
    if not context or not continuation:
        raise ValueError("a request needs a non-empty context and continuation")
    if len(continuation) > max_length:
        raise ValueError(f"continuation of {len(continuation)} tokens exceeds max_length {max_length}")
    return [*context, *continuation][-(max_length + 1):][:-1]


@torch.no_grad()
def naive_scores(lm: GenesysLM, requests: Sequence[Request], max_length: int,
                 device: torch.device | None = None) -> list[tuple[float, bool]]:
    """(log P(continuation | context), continuation is greedy) per request: full logits, one at a time."""
    device = device or next(lm.parameters()).device
    out = []
    for context, continuation in requests:
        inp = torch.tensor([model_input(context, continuation, max_length)], device=device)
        logp = F.log_softmax(lm(inp).logits.float(), dim=-1)[0, -len(continuation):]
        target = torch.tensor(list(continuation), device=device)
        out.append((float(logp.gather(1, target[:, None]).sum()), bool((logp.argmax(-1) == target).all())))
    return out


@dataclass
class _Row:
    """One model input and the requests it answers."""

    tokens: list[int]
    requests: list[int] = field(default_factory=list)


def plan_rows(requests: Sequence[Request], max_length: int) -> tuple[list[_Row], list[list[int]]]:
    """Model inputs, longest first, each answering every request whose input is a prefix of it.

    Prefixes are looked for among requests with the same context (the choices of one question),
    which is where they occur; returns the rows and each request's input tokens."""
    inputs = [model_input(c, k, max_length) for c, k in requests]
    by_context: dict[tuple[int, ...], list[int]] = {}
    for i, (context, _) in enumerate(requests):
        by_context.setdefault(tuple(context), []).append(i)
    rows: list[_Row] = []
    for members in by_context.values():
        hosts: list[_Row] = []
        for i in sorted(members, key=lambda j: -len(inputs[j])):
            inp = inputs[i]
            host = next((h for h in hosts if h.tokens[:len(inp)] == inp), None)
            if host is None:
                host = _Row(inp)
                hosts.append(host)
            host.requests.append(i)
        rows.extend(hosts)
    rows.sort(key=lambda r: (-len(r.tokens), r.tokens))
    return rows, inputs


def batch_rows(rows: list[_Row], token_budget: int) -> list[list[_Row]]:
    """Consecutive rows (longest first) while rows x the batch's longest row fits the budget."""
    batches: list[list[_Row]] = []
    for row in rows:
        if batches and (len(batches[-1]) + 1) * len(batches[-1][0].tokens) <= token_budget:
            batches[-1].append(row)
        else:
            batches.append([row])
    return batches


@torch.no_grad()
def score_requests(lm: GenesysLM, requests: Sequence[Request], max_length: int, token_budget: int = 4096,
                   device: torch.device | None = None, autocast_dtype: torch.dtype | None = None,
                   head_chunk: int = 256) -> list[tuple[float, bool]]:
    """The same (log-probability, is-greedy) pairs as HFLM, computed at the scored positions only.

    `token_budget` bounds rows x padded length per forward pass (halved on out-of-memory);
    `autocast_dtype` is HFLM's mixed-precision dtype (None: the model's own dtype); the
    log-softmax is always float32."""
    device = device or next(lm.parameters()).device
    rows, inputs = plan_rows(requests, max_length)
    results: list[tuple[float, bool] | None] = [None] * len(requests)
    pending = rows
    while pending:
        batch = batch_rows(pending, token_budget)[0]
        try:
            _score_batch(lm, batch, requests, inputs, results, device, autocast_dtype, head_chunk)
        except torch.OutOfMemoryError:
            if len(batch) == 1:
                raise
            token_budget = max(1, token_budget // 2)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        pending = pending[len(batch):]
    return [r for r in results if r is not None]


def _score_batch(lm: GenesysLM, batch: list[_Row], requests: Sequence[Request], inputs: list[list[int]],
                 results: list, device: torch.device, autocast_dtype: torch.dtype | None, head_chunk: int) -> None:
    width = len(batch[0].tokens)
    ids = torch.zeros(len(batch), width, dtype=torch.long)
    row_of, pos_of, target_of, spans = [], [], [], []
    for r, row in enumerate(batch):
        ids[r, :len(row.tokens)] = torch.tensor(row.tokens)
        for i in row.requests:
            cont, n_inp = requests[i][1], len(inputs[i])
            start = len(row_of)
            row_of.extend([r] * len(cont))
            pos_of.extend(range(n_inp - len(cont), n_inp))
            target_of.extend(cont)
            spans.append((i, start, len(row_of)))
    vocab = lm.config.vocab_size
    with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
        hidden = lm.hidden_states(ids.to(device))
        picked = hidden[torch.tensor(row_of, device=device), torch.tensor(pos_of, device=device)]
        targets = torch.tensor(target_of, device=device)
        token_lp, greedy = [], []
        for s in range(0, len(targets), head_chunk):
            logits = lm.lm_head(picked[s:s + head_chunk])[..., :vocab].float()
            tgt = targets[s:s + head_chunk]
            # log_softmax at the target only: logit - logsumexp, sharing one max with the greedy test
            top = logits.max(-1).values
            at_target = logits.gather(1, tgt[:, None]).squeeze(1)
            token_lp.append(at_target - (top + (logits - top[:, None]).exp_().sum(-1).log_()))
            # greedy: the target is argmax (its first maximum); only rows whose target reaches the
            # maximum can be, and only those pay for an argmax
            is_greedy = at_target >= top
            rows = is_greedy.nonzero().squeeze(1)
            if len(rows):
                is_greedy[rows] = logits[rows].argmax(-1) == tgt[rows]
            greedy.append(is_greedy)
    lp = torch.cat(token_lp).cpu()
    ok = torch.cat(greedy).cpu()
    for i, start, end in spans:
        results[i] = (float(lp[start:end].sum()), bool(ok[start:end].all()))


def genesys_hflm_class() -> type:
    """HFLM whose token-level scoring is `score_requests` (built lazily: lm-eval is imported on use)."""
    from lm_eval import utils
    from lm_eval.models.huggingface import HFLM

    class GenesysHFLM(HFLM):
        """lm-eval's HFLM with exact fast scoring for GenesysLM (in `self.model.lm`)."""

        def _score(self, requests: Sequence[Request]) -> list[tuple[float, bool]]:
            budget = self.batch_size_per_gpu * self.max_length if isinstance(self.batch_size_per_gpu, int) \
                else 16 * self.max_length
            return score_requests(self.model.lm, requests, self.max_length, token_budget=budget,
                                  device=self.device, autocast_dtype=self.mixed_precision_dtype)

        def _loglikelihood_tokens(self, requests: list, disable_tqdm: bool = False,
                                  override_bs: int | None = None) -> list[tuple[float, bool]]:
            answers = self._score([(ctx, cont) for _, ctx, cont in requests])
            for (request_str, _, _), answer in zip(requests, answers, strict=True):
                if request_str is not None:
                    self.cache_hook.add_partial("loglikelihood", request_str, answer)
            return answers

        def loglikelihood_rolling(self, requests: list, disable_tqdm: bool = False) -> list[float]:
            """HFLM's rolling windows (context length 1), all scored in one `score_requests` call."""
            windows: list[Request] = []
            counts = []
            for (string,) in [req.args for req in requests]:
                rolling = [utils.make_disjoint_window(w) for w in utils.get_rolling_token_windows(
                    token_list=self.tok_encode(string), prefix_token=self.prefix_token_id,
                    max_seq_len=self.max_length, context_len=1)]
                windows.extend(rolling)
                counts.append(len(rolling))
            scores = self._score(windows)
            totals, at = [], 0
            for req, n in zip(requests, counts, strict=True):
                total = sum(ll for ll, _ in scores[at:at + n])
                at += n
                totals.append(total)
                self.cache_hook.add_partial("loglikelihood_rolling", req.args, total)
            return totals

    return GenesysHFLM
