"""Each seed learns real text: a short CPU run on Tiny Shakespeare with the Llama-2 tokenizer."""

from __future__ import annotations

import pytest
import torch

from verifier.core.gau import compose, load_gab
from verifier.core.model import GenesysLM, LMConfig
from verifier.core.seeds import available_seeds, load_seed

STEPS, BATCH, LENGTH = 40, 6, 64


@pytest.fixture(scope="module")
def shakespeare_tokens(genesys_data_dir):
    transformers = pytest.importorskip("transformers")
    tokenizer = transformers.LlamaTokenizer.from_pretrained(str(genesys_data_dir / "tokenizers" / "llama2"))
    text = (genesys_data_dir / "corpora" / "tinyshakespeare" / "input.txt").read_text()[:200_000]
    ids = torch.tensor(tokenizer(text)["input_ids"], dtype=torch.long)
    assert tokenizer.vocab_size == 32000 and len(ids) > 40_000
    return ids


def train(tree, tokens: torch.Tensor) -> list[float]:
    gab, cfg = load_gab(compose(tree), tree.name)
    torch.manual_seed(0)
    model = GenesysLM(LMConfig(vocab_size=32000, d_model=64, n_block=2, gab_config=cfg), gab)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(STEPS):
        starts = torch.randint(0, len(tokens) - LENGTH - 1, (BATCH,), generator=gen)
        batch = torch.stack([tokens[s : s + LENGTH] for s in starts.tolist()])
        loss = model(batch, labels=batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("name", available_seeds())
def test_seed_loss_falls_on_real_text(name, shakespeare_tokens):
    losses = train(load_seed(name), shakespeare_tokens)
    start, end = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    print(f"\n{name}: loss {start:.3f} -> {end:.3f} over {STEPS} steps")
    assert start > 9.5, "an untrained model should be near ln(32000) = 10.4"
    assert end < start - 2.5, f"{name} did not learn: {start:.2f} -> {end:.2f}"
