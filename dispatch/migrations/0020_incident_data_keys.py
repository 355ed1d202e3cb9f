"""Each incident's personal data under its own data key (issue 21): ``pii_key`` (wrapped by PII_KEYS), the values
re-encrypted from the master keys (``enc1:``) or plain text to the data key (``enc2:``), ``pii_erased_at`` and
``pii_erasure`` for the retention policy. The model reads the columns ``reporter_name`` / ``reporter_phone`` through
properties, so the fields are renamed (``*_sealed``) on the same columns."""

from django.db import migrations, models


def to_data_keys(apps, schema_editor):
    from dispatch.core import crypto

    Incident = apps.get_model("dispatch", "Incident")
    rows = Incident.objects.exclude(reporter_name_sealed="", reporter_phone_sealed="").filter(pii_key="")
    for pk, name, phone in rows.values_list("pk", "reporter_name_sealed", "reporter_phone_sealed").iterator():
        key, wrapped = crypto.data_key_new()
        Incident.objects.filter(pk=pk).update(
            pii_key=wrapped, reporter_name_sealed=crypto.seal(key, crypto.decrypt(name)),
            reporter_phone_sealed=crypto.seal(key, crypto.decrypt(phone)),
        )


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0019_apiclient_expires_at")]

    operations = [
        migrations.AlterField("incident", "reporter_name", models.TextField(blank=True, db_column="reporter_name")),
        migrations.AlterField("incident", "reporter_phone", models.TextField(blank=True, db_column="reporter_phone")),
        migrations.RenameField("incident", "reporter_name", "reporter_name_sealed"),
        migrations.RenameField("incident", "reporter_phone", "reporter_phone_sealed"),
        migrations.AddField("incident", "pii_key", models.TextField(blank=True, default="")),
        migrations.AddField("incident", "pii_erased_at", models.DateTimeField(blank=True, null=True)),
        migrations.AddField(
            "incident", "pii_erasure",
            models.CharField(blank=True, choices=[("retention", "retention period over"),
                                                  ("request", "the person concerned asked")], max_length=16),
        ),
        migrations.AddIndex(
            "incident",
            models.Index(condition=models.Q(pii_erased_at__isnull=True), fields=["created_at"], name="incident_pii_kept"),
        ),
        migrations.RunPython(to_data_keys, migrations.RunPython.noop, elidable=True),
    ]
