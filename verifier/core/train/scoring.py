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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..model import GenesysLM
from .eval_progress import EvalProgress

Request = tuple[Sequence[int], Sequence[int]]  # (context tokens, continuation tokens)

# Tokens per forward pass on a CPU, whatever the batch size asks: the micro rung's blocks ran 10%
# faster in 2048-token passes than in 4096-token ones (activations that stay in cache, fewer
# freshly mapped pages; 1 thread, 2-core box), and padding drops from 9% to 4.5%.
CPU_TOKEN_BUDGET = 2048


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


@dataclass
class _Positions:
    """Every scored position, flattened: its request, the prefix node it predicts from, its target."""

    nodes: list[int] = field(default_factory=list)  # prefix-trie node of the position's input prefix
    targets: list[int] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)  # per request: [start, end) in the lists
    sites: dict[int, tuple[int, int]] = field(default_factory=dict)  # node -> (row, position) computing it


def scored_positions(rows: list[_Row], requests: Sequence[Request], inputs: list[list[int]]) -> _Positions:
    """The scored positions of all requests, each named by the token prefix it predicts from.

    Positions with the same prefix (the last context token, shared by every choice of a question;
    the common start of two BLiMP sentences) have the same hidden state in a causal model, so
    the head and the log-softmax run once per distinct prefix."""
    out = _Positions()
    out.spans = [(0, 0)] * len(requests)
    trie: dict[tuple[int, int], int] = {}
    for r, row in enumerate(rows):
        for i in row.requests:
            inp, cont = inputs[i], requests[i][1]
            first = len(inp) - len(cont)
            node, start = -1, len(out.nodes)
            for pos, token in enumerate(inp):
                node = trie.setdefault((node, token), len(trie))
                if pos >= first:
                    out.sites.setdefault(node, (r, pos))
                    out.nodes.append(node)
            out.targets.extend(cont)
            out.spans[i] = (start, len(out.nodes))
    return out


@torch.no_grad()
def score_requests(lm: GenesysLM, requests: Sequence[Request], max_length: int, token_budget: int = 4096,
                   device: torch.device | None = None, autocast_dtype: torch.dtype | None = None,
                   head_chunk: int = 1024, on_scored: Callable[[list[int]], None] | None = None,
                   ) -> list[tuple[float, bool]]:
    """The same (log-probability, is-greedy) pairs as HFLM, computed at the scored positions only.

    Two phases: the blocks run on the rows, batched by length, and keep the hidden state of each
    distinct scored prefix; then the tied head and a float32 log-softmax run on those states only.
    `token_budget` bounds rows x padded length per forward pass (halved on out-of-memory);
    `autocast_dtype` is HFLM's mixed-precision dtype (None: the model's own dtype); `on_scored` hears
    the indices of the requests whose model pass is done, batch by batch (progress)."""
    if not requests:
        return []
    device = device or next(lm.parameters()).device
    rows, inputs = plan_rows(requests, max_length)
    positions = scored_positions(rows, requests, inputs)
    hidden = _prefix_states(lm, rows, positions, token_budget, device, autocast_dtype, on_scored)
    lp, greedy = _head_scores(lm, hidden, positions, device, autocast_dtype, head_chunk)
    return [(float(lp[a:b].sum()), bool(greedy[a:b].all())) for a, b in positions.spans]


def _prefix_states(lm: GenesysLM, rows: list[_Row], positions: _Positions, token_budget: int,
                   device: torch.device, autocast_dtype: torch.dtype | None,
                   on_scored: Callable[[list[int]], None] | None = None) -> torch.Tensor:
    """Hidden states [distinct prefixes, d_model], indexed by trie node rank (sorted node ids)."""
    nodes = sorted(positions.sites)
    rank = {node: k for k, node in enumerate(nodes)}
    by_row: dict[int, list[tuple[int, int]]] = {}
    for node, (r, pos) in positions.sites.items():
        by_row.setdefault(r, []).append((pos, rank[node]))
    states: torch.Tensor | None = None
    first = 0
    planned: list[list[_Row]] = []  # the batches ahead at the current budget (replanned when it halves)
    while first < len(rows):
        if not planned:
            planned = batch_rows(rows[first:], token_budget)
        batch = planned[0]
        ids = torch.zeros(len(batch), len(batch[0].tokens), dtype=torch.long)
        for b, row in enumerate(batch):
            ids[b, :len(row.tokens)] = torch.tensor(row.tokens)
        where = [(b, pos, k) for b in range(len(batch)) for pos, k in by_row.get(first + b, [])]
        try:
            with torch.autocast(device.type, dtype=autocast_dtype or torch.float32,
                                enabled=autocast_dtype is not None):
                hidden = lm.hidden_states(ids.to(device))
        except torch.OutOfMemoryError:
            if len(batch) == 1:
                raise
            token_budget = max(1, token_budget // 2)
            planned = []
            if device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        if states is None:
            states = hidden.new_empty(len(nodes), hidden.shape[-1])
        if where:
            b_idx, p_idx, k_idx = (torch.tensor(col, device=device) for col in zip(*where, strict=True))
            states[k_idx] = hidden[b_idx, p_idx]
        first += len(batch)
        planned.pop(0)
        if on_scored is not None:
            on_scored([i for row in batch for i in row.requests])
    assert states is not None
    positions.nodes = [rank[n] for n in positions.nodes]
    return states


def _head_scores(lm: GenesysLM, states: torch.Tensor, positions: _Positions, device: torch.device,
                 autocast_dtype: torch.dtype | None, head_chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per scored position: log P(target) and whether the target is the argmax (HFLM's is-greedy).

    Without autocast (as on a CPU), the head's matmul and the log-softmax write into two buffers
    reused chunk after chunk: a fresh [chunk, vocab] tensor per chunk (32 MB at 256 x 32k) is
    mapped and page-faulted anew by the allocator every time: 30% of the head's time in isolation,
    12% in the micro rung's evaluation (2-core box). Same ops on the same inputs, same numbers.
    Chunks of 1024 prefixes (two 131 MB buffers; HFLM's logits for 16 rows take 524 MB) cost 12%
    less than 256 with two threads (fewer thread hand-offs), the same with one."""
    vocab = lm.config.vocab_size
    node = torch.tensor(positions.nodes, device=device)
    target = torch.tensor(positions.targets, device=device)
    order = torch.argsort(node, stable=True)
    node_sorted = node[order]
    lp = torch.empty(len(node), dtype=torch.float32, device=device)
    greedy = torch.zeros(len(node), dtype=torch.bool, device=device)
    bounds = torch.searchsorted(node_sorted, torch.arange(0, len(states) + head_chunk, head_chunk, device=device))
    weight = lm.lm_head.weight[:vocab]
    reuse = autocast_dtype is None and weight.dtype == torch.float32 and lm.lm_head.bias is None \
        and states.dtype == torch.float32
    if reuse:
        rows = min(head_chunk, len(states))
        logits_buf = torch.empty(rows, vocab, device=device)
        logp_buf = torch.empty(rows, vocab, device=device)
    for c, s in enumerate(range(0, len(states), head_chunk)):
        chunk = states[s:s + head_chunk]
        if reuse:
            logits = torch.mm(chunk, weight.t(), out=logits_buf[:len(chunk)])
            logp = torch.log_softmax(logits, dim=-1, out=logp_buf[:len(chunk)])
        else:
            with torch.autocast(device.type, dtype=autocast_dtype or torch.float32,
                                enabled=autocast_dtype is not None):
                logits = lm.lm_head(chunk)[..., :vocab].float()
            logp = F.log_softmax(logits, dim=-1)
        sel = order[bounds[c]:bounds[c + 1]]  # the positions whose prefix is in this chunk
        local, tgt = node[sel] - s, target[sel]
        lp[sel] = logp[local, tgt]
        # greedy: the target is the (first) argmax; only a target at the maximum can be
        at_max = logits[local, tgt] >= logits.amax(-1)[local]
        if at_max.any():
            hit = at_max.nonzero().squeeze(1)
            at_max[hit] = logits[local[hit]].argmax(-1) == tgt[hit]
        greedy[sel] = at_max
    return lp.cpu(), greedy.cpu()


def genesys_hflm_class() -> type:
    """HFLM whose token-level scoring is `score_requests` (built lazily: lm-eval is imported on use)."""
    from lm_eval import utils
    from lm_eval.models.huggingface import HFLM

    class GenesysHFLM(HFLM):
        """lm-eval's HFLM with exact fast scoring for GenesysLM (in `self.model.lm`)."""

        progress: EvalProgress | None = None  # set by evaluation.evaluate when someone listens
        _request_tasks: list[str | None] | None = None  # the task of each request being scored

        def _encode_many(self, strings: list[str], add_special_tokens: bool | None = None) -> dict[str, list[int]]:
            """`tok_encode` of each distinct string, in one tokenizer call per set of options."""
            from lm_eval.models.utils import _add_special_kwargs, has_bos_prefix

            bos = self.tokenizer.decode(self.prefix_token_id)
            groups: dict[tuple, list[str]] = {}
            for string in dict.fromkeys(strings):
                kwargs = _add_special_kwargs(add_special_tokens, self.add_bos_token)
                if add_special_tokens is None and has_bos_prefix(string, bos):
                    kwargs["add_special_tokens"] = False
                groups.setdefault(tuple(sorted(kwargs.items())), []).append(string)
            out: dict[str, list[int]] = {}
            for options, group in groups.items():
                out.update(zip(group, self.tokenizer(group, **dict(options))["input_ids"], strict=True))
            return out

        def loglikelihood(self, requests: list, disable_tqdm: bool = False) -> list[tuple[float, bool]]:
            """TemplateLM's request encoding (empty context: the prefix token; trailing context
            spaces move to the continuation; the continuation is what follows the context's tokens
            in the encoded whole), with each distinct string encoded once, in batches."""
            if self.enable_thinking or self.backend != "causal":
                return super().loglikelihood(requests, disable_tqdm=disable_tqdm)
            pairs = []  # (context had text, context, continuation) after moving trailing spaces
            for context, continuation in [req.args for req in requests]:
                spaces = len(context) - len(context.rstrip())
                if context and spaces:
                    pairs.append((True, context[:-spaces], context[-spaces:] + continuation))
                else:
                    pairs.append((bool(context), context, continuation))
            plain = self._encode_many([k for has, _, k in pairs if not has], add_special_tokens=False)
            texts = self._encode_many([t for has, c, k in pairs if has for t in (c, c + k)])
            self._request_tasks = [getattr(req, "task_name", None) for req in requests]
            new_reqs = []
            for (has_context, context, continuation), req in zip(pairs, requests, strict=True):
                if not has_context:
                    cont = plain[continuation]
                    ctx, cont = ([self.prefix_token_id], cont) if self.prefix_token_id != cont[0] \
                        else (cont[:1], cont[1:])
                else:
                    ctx = texts[context]
                    cont = texts[context + continuation][len(ctx):]
                new_reqs.append((req.args, ctx, cont))
            return self._loglikelihood_tokens(new_reqs, disable_tqdm=disable_tqdm)

        def _score(self, requests: Sequence[Request], tasks: Sequence[str | None] | None = None,
                   ) -> list[tuple[float, bool]]:
            budget = self.batch_size_per_gpu * self.max_length if isinstance(self.batch_size_per_gpu, int) \
                else 16 * self.max_length
            if self.device.type == "cpu":
                budget = min(budget, CPU_TOKEN_BUDGET)
            progress = self.progress
            on_scored = None
            if progress is not None:
                names = list(tasks) if tasks is not None and len(tasks) == len(requests) else [None] * len(requests)
                progress.asked(names)

                def on_scored(indices: list[int]) -> None:
                    progress.scored(names[i] for i in indices)
            answers = score_requests(self.model.lm, requests, self.max_length, token_budget=budget,
                                     device=self.device, autocast_dtype=self.mixed_precision_dtype,
                                     on_scored=on_scored)
            if progress is not None:
                progress.finished()
            return answers

        def _loglikelihood_tokens(self, requests: list, disable_tqdm: bool = False,
                                  override_bs: int | None = None) -> list[tuple[float, bool]]:
            tasks, self._request_tasks = self._request_tasks, None
            answers = self._score([(ctx, cont) for _, ctx, cont in requests], tasks)
            for (request_str, _, _), answer in zip(requests, answers, strict=True):
                if request_str is not None:
                    self.cache_hook.add_partial("loglikelihood", request_str, answer)
            return answers

        def loglikelihood_rolling(self, requests: list, disable_tqdm: bool = False) -> list[float]:
            """HFLM's rolling windows (context length 1), all scored in one `score_requests` call."""
            windows: list[Request] = []
            counts = []
            window_tasks: list[str | None] = []
            for req in requests:
                (string,) = req.args
                rolling = [utils.make_disjoint_window(w) for w in utils.get_rolling_token_windows(
                    token_list=self.tok_encode(string), prefix_token=self.prefix_token_id,
                    max_seq_len=self.max_length, context_len=1)]
                windows.extend(rolling)
                counts.append(len(rolling))
                window_tasks.extend([getattr(req, "task_name", None)] * len(rolling))
            scores = self._score(windows, window_tasks)
            totals, at = [], 0
            for req, n in zip(requests, counts, strict=True):
                total = sum(ll for ll, _ in scores[at:at + n])
                at += n
                totals.append(total)
                self.cache_hook.add_partial("loglikelihood_rolling", req.args, total)
            return totals

    return GenesysHFLM
