"""DRF's tokens were stored in clear (``authtoken_token``): the table goes, and every such token with it (people sign
in again and get a hashed, expiring one). Nothing reads it any more (``rest_framework.authtoken`` is not installed)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("identity", "0001_initial")]

    operations = [migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token", reverse_sql=migrations.RunSQL.noop)]
