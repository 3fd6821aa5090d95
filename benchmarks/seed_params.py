"""Print each seed's parameter counts at the ladder's reference shapes (meta device: no memory).

    python benchmarks/seed_params.py
"""

from __future__ import annotations

from verifier.core.gau import compose, load_gab
from verifier.core.model import GenesysLM, LMConfig
from verifier.core.seeds import available_seeds, load_seed

SHAPES = {"14M": (128, 6), "31M": (256, 6), "70M": (512, 6), "125M": (768, 12), "350M": (1024, 24)}


def main() -> None:
    print(f"{'seed':8} {'rung':>5} {'d_model':>7} {'n_block':>7} {'non-embedding':>14} {'total (tied)':>13}")
    for name in available_seeds():
        gab, cfg = load_gab(compose(load_seed(name)), name)
        for rung, (d, n) in SHAPES.items():
            model = GenesysLM(LMConfig(vocab_size=32000, d_model=d, n_block=n, gab_config=cfg), gab, device="meta")
            print(f"{name:8} {rung:>5} {d:7d} {n:7d} {model.num_params():14,d} {model.num_params(False):13,d}")


if __name__ == "__main__":
    main()
