# The screen was redefined twice (issue #12): 65k tokens at 64x3, then micro's shape for 48 steps, now
# tiny's first 30 steps. A verification stored as `screen` under an earlier definition is renamed to
# that definition's own rung (screen-65k, screen-micro48): off the ladder, so F never mixes its number
# with the current screen's, and the design can be screened again under the current one (one row per
# design, rung and seed). Told apart by the rung definition every report carries (config.rung):
# the three screens differ in context length and tokens per step. After migrating, `manage.py
# refresh_fitness` recomputes F (scripts/start.sh runs it).

from django.db import migrations

# Frozen here: the definitions as they were (verifier/core/train/ladder.py may change later).
EARLIER_SCREENS = {(128, 1024): ("screen-65k", 10), (256, 2048): ("screen-micro48", 9)}  # (ctx, tokens/step): (name, rung_index)


def earlier_screen(report):
    """(name, rung_index) of the earlier screen a report was made under; None if not one (or unreadable)."""
    config = report.get("config") if isinstance(report, dict) else None
    rung = config.get("rung") if isinstance(config, dict) else None
    if not isinstance(rung, dict):
        return None
    key = (rung.get("context_length"), rung.get("batch_tokens"))
    return EARLIER_SCREENS.get(key) if all(isinstance(k, int) for k in key) else None


def rename_earlier_screens(apps, schema_editor):
    Verification = apps.get_model("evolution", "Verification")
    ids = list(Verification.objects.filter(rung="screen").exclude(report=None).values_list("id", flat=True))
    for start in range(0, len(ids), 500):  # read a batch, then change it (reports are ~20 kB each)
        for verification in Verification.objects.filter(id__in=ids[start:start + 500]):
            found = earlier_screen(verification.report)
            if found is None:
                continue
            name, index = found
            taken = Verification.objects.filter(design_id=verification.design_id, rung=name, seed=verification.seed)
            if taken.exists():  # the same screen was also run under its own name: that row is the result
                verification.delete()
                continue
            verification.rung, verification.rung_index = name, index
            verification.save(update_fields=["rung", "rung_index"])


class Migration(migrations.Migration):

    dependencies = [
        ('evolution', '0011_design_fingerprint'),
    ]

    operations = [
        migrations.RunPython(rename_earlier_screens, migrations.RunPython.noop),
    ]
