"""OrderFact.incident_created_at: the incident's creation time copied onto its orders' facts (a report's period is a
range on the orders' own index instead of a join of every order to its incident), filled from the incidents' facts."""

from django.db import migrations, models

FILL = """
UPDATE analytics_orderfact SET incident_created_at = (
    SELECT created_at FROM analytics_incidentfact WHERE analytics_incidentfact.incident_id = analytics_orderfact.incident_id
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="orderfact",
            name="incident_created_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="orderfact",
            name="incident_created_at",
            field=models.DateTimeField(),
        ),
        migrations.AddIndex(
            model_name="orderfact",
            index=models.Index(fields=["incident_created_at"], name="orderfact_incident_created"),
        ),
    ]
