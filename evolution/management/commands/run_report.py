"""`manage.py run_report [RUN]`: a run's numbers as JSON (designs, verifications, fitness, failures)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from evolution.models import EvolutionRun
from evolution.selectors.run_report import run_report


class Command(BaseCommand):
    help = "Print what an evolution run made, checked and verified, fitness over time and failures."

    def add_arguments(self, parser):
        parser.add_argument("run", nargs="?", help="run name (default: the active run)")
        parser.add_argument("--bucket-minutes", type=int, default=5)
        parser.add_argument("--first-n", type=int, default=None,
                            help="Table 2's metrics over the first N designs of each rung (default: all)")
        parser.add_argument("--table", action="store_true", help="print the metrics as a table instead of JSON")

    def handle(self, *args, run: str | None, bucket_minutes: int, first_n: int | None, table: bool, **options):
        if bucket_minutes <= 0:
            raise CommandError("--bucket-minutes must be positive")
        if first_n is not None and first_n < 0:
            raise CommandError("--first-n must be ≥ 0")
        qs = EvolutionRun.objects.filter(name=run) if run else EvolutionRun.objects.filter(is_active=True)
        obj = qs.first()
        if obj is None:
            raise CommandError(f"no run {run!r}" if run else "no active run")
        report = run_report(obj, bucket_minutes, first_n)
        if table:
            self.stdout.write(metrics_table(report["metrics"]))
        else:
            self.stdout.write(json.dumps(report, indent=2, default=str))


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def metrics_table(metrics: dict) -> str:
    """Plain-text tables of a run's metrics: per rung, then stages, then designers."""
    lines = [f"run {metrics['run']} (id {metrics['run_id']}): {metrics['designs']} designs"]
    names = ("n", "initial", "start_mean", "final_mean", "final_max", "delta", "delta_max", "sharpe", "volatility",
             "max_drawdown")
    for r in metrics["rungs"]:
        lines.append(f"\n{r['key']}")
        for name in names:
            interval = r["intervals"].get(name)
            band = f"  [{_fmt(interval[0])}, {_fmt(interval[1])}]" if interval else ""
            lines.append(f"  {name:<13}{_fmt(r['metrics'][name]):>12}{band}")
    lines.append("\nstage     attempts  errors  rate    categories")
    for stage, s in metrics["errors"]["stages"].items():
        lines.append(f"  {stage:<8}{s['attempts']:>8}{s['errors']:>8}  {_fmt(s['rate']):<7} {s['categories'] or ''}")
    lines.append("\ndesigner  designs  valid  valid rate  attempts/valid")
    for d in metrics["designers"]:
        lines.append(f"  {d['designer']:<8}{d['designs']:>8}{d['valid']:>7}  {_fmt(d['valid_rate']):<10}  "
                     f"{_fmt(d['attempts_per_valid'])}")
    return "\n".join(lines)
