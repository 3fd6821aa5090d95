"""`manage.py design --parents gpt mamba2 --mode crossover`: run one design end to end and print it.

Uses the provider configured in the designer settings (the GP designer when none can run), stores
the result in the evolution tree, and prints the outcome, the attempts and the cost. `--replay DIR`
serves recorded provider replies from a local HTTP server instead of calling a provider.
"""

from __future__ import annotations

import json
import logging
import os
import random
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from designer.core.ablations import VARIANTS, variant
from designer.core.replay_server import ReplayServer, point_config_at
from designer.core.result import DesignerResult
from designer.services import designer_config, run_design

REPLAY_KEY_ENV = "GENESYS_REPLAY_API_KEY"


class Command(BaseCommand):
    help = "Run one design (proposal, review, unit-by-unit implementation, checks) and print the outcome."

    def add_arguments(self, parser):
        parser.add_argument("--parents", nargs="*", default=[], help="parent design or seed names")
        parser.add_argument("--mode", choices=("mutation", "crossover", "scratch"),
                            help="default: from the number of parents (0 scratch, 1 mutation, 2+ crossover)")
        parser.add_argument("--theme", default="", help="research theme for the proposer and the references")
        parser.add_argument("--ablation", choices=sorted(VARIANTS), default="full", help="Table 4 switch")
        parser.add_argument("--gp", action="store_true", help="use the genetic-programming designer")
        parser.add_argument("--budget", type=float, help="dollar budget of this run (default: the settings')")
        parser.add_argument("--seed", type=int, help="random seed (GP operators)")
        parser.add_argument("--no-store", action="store_true", help="do not store the design in the evolution tree")
        parser.add_argument("--json", dest="json_path", help="also write the full result (with trace) to this file")
        parser.add_argument("--replay", help="folder of recorded provider replies to serve instead of a provider")

    def handle(self, *args, parents, mode, theme, ablation, gp, budget, seed, no_store, json_path, replay, **options):
        if options.get("verbosity", 1) < 2:
            for name in ("httpx", "httpx2", "anthropic", "openai"):  # one INFO line per HTTP request
                logging.getLogger(name).setLevel(logging.WARNING)
        mode = mode or ("scratch" if not parents else "mutation" if len(parents) == 1 else "crossover")
        config = designer_config(theme=theme, use_gp=gp, seed=seed)
        config.ablation = variant(ablation) if ablation != "full" else config.ablation
        if budget is not None:
            config.limits.run_budget_dollars = budget
        server = self._replay(replay, config) if replay else None
        try:
            result, stored, resolved = run_design(parents, mode, config=config, store=not no_store,
                                                  rng=random.Random(seed))
        except (LookupError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if server is not None:
                server.stop()
        for note in resolved.notes:
            self.stdout.write(f"note: {note}")
        self._print(result, stored)
        if json_path:
            Path(json_path).write_text(json.dumps(result.to_dict(), indent=2, default=str))
            self.stdout.write(f"result written to {json_path}")

    def _replay(self, folder: str, config) -> ReplayServer:
        if not Path(folder).is_dir():
            raise CommandError(f"no folder {folder}")
        server = ReplayServer.from_folder(folder)
        server.start()
        os.environ.setdefault(REPLAY_KEY_ENV, "replay")  # the SDKs want a key; the replay ignores it
        point_config_at(server, config, key_env=REPLAY_KEY_ENV)
        self.stdout.write(f"replaying {len(server.replies)} recorded replies from {folder} at {server.base_url}")
        return server

    def _print(self, result: DesignerResult, stored) -> None:
        m = result.metrics
        kind = result.origin.get("kind", "?")
        self.stdout.write(f"designer: {kind}" + (f" ({result.origin.get('why')})" if kind == "gp" else
                                                  f", models {result.origin.get('models')}"))
        self.stdout.write(f"outcome: {result.status} - {result.name or '(unnamed)'}"
                          f" ({result.mode} of {', '.join(result.parents) or 'nothing'})")
        if result.failure:
            self.stdout.write(f"failure: {result.failure}")
        if result.proposal:
            self.stdout.write(f"proposal: {result.proposal.get('title')}")
        rounds = ", ".join(f"{r.get('score') if r.get('score') is not None else '-'}" for r in result.review_rounds)
        self.stdout.write(f"attempts: {m.get('proposal_rounds', 0)} proposal round(s)"
                          + (f" (scores {rounds})" if rounds else "")
                          + f", {m.get('attempts', 0)} implementation attempt(s)")
        for entry in result.trace:
            verdict = "accepted" if entry.get("passed") else "rolled back"
            errors = [f for f in entry.get("findings", []) if f.get("severity") == "error"]
            first = f": {errors[0]['category']}: {errors[0]['message'][:100]}" if errors and not entry.get("passed") else ""
            self.stdout.write(f"  {entry.get('unit')} attempt {entry.get('attempt')}: {verdict}{first}")
        cost = result.cost
        self.stdout.write(f"cost: ${cost.dollars:.4f} ({cost.tokens_in} tokens in, {cost.tokens_out} out, "
                          f"{cost.seconds:.1f} s of model time)")
        if result.tree is not None:
            self.stdout.write(f"units: {', '.join(result.tree.implemented())}")
        if m.get("check_skipped"):
            self.stdout.write(f"check: skipped ({m['check_skipped']})")
        if stored is not None:
            url = stored.get_absolute_url() if hasattr(stored, "get_absolute_url") else ""
            self.stdout.write(f"stored: {stored.name} {url}".rstrip())
        elif result.prompt_version:
            self.stdout.write(f"prompts: {result.prompt_version}")
