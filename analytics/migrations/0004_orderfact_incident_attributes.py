"""OrderFact.event_type, district, exercise, merged: the incident's attributes a report filters on, copied onto its
orders' facts (a report of the orders reads no incident; measured: README, Analytics), filled from the incidents'
facts."""

from django.db import migrations, models

FILL = """
UPDATE analytics_orderfact SET event_type = i.event_type, district = i.district, exercise = i.exercise,
    merged = i.merged_into IS NOT NULL
FROM analytics_incidentfact i WHERE i.incident_id = analytics_orderfact.incident_id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0003_incidentfact_feedback"),
    ]

    operations = [
        migrations.AddField(
            model_name="orderfact", name="event_type", field=models.CharField(default="", max_length=64)
        ),
        migrations.AddField(
            model_name="orderfact",
            name="district",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddField(model_name="orderfact", name="exercise", field=models.BooleanField(default=False)),
        migrations.AddField(model_name="orderfact", name="merged", field=models.BooleanField(default=False)),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
    ]
