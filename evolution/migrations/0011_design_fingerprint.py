# Functional clones (evolution/services/clones.py): the behavioural fingerprint and the twin of a clone.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('evolution', '0010_design_request_failed'),
    ]

    operations = [
        migrations.AddField(
            model_name='design',
            name='clone_of',
            field=models.ForeignKey(blank=True, help_text='the design this one behaves exactly like (a functional clone)', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='clones', to='evolution.design'),
        ),
        migrations.AddField(
            model_name='design',
            name='fingerprint',
            field=models.CharField(blank=True, db_index=True, max_length=80),
        ),
        migrations.AlterField(
            model_name='upload',
            name='status',
            field=models.CharField(choices=[('checking', 'checking'), ('accepted', 'accepted'), ('rejected', 'rejected by the checker'), ('unreadable', 'could not be read'), ('duplicate', 'duplicate of an existing design'), ('failed', 'the check could not run')], max_length=16),
        ),
    ]
