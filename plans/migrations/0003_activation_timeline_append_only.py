"""The database refuses UPDATE and DELETE on an activation's timeline rows (PostgreSQL and SQLite), like incidents'."""

from django.db import migrations

from dispatch.core.append_only import append_only


class Migration(migrations.Migration):
    dependencies = [("plans", "0002_activations")]
    operations = [append_only(table="plans_activationevent", name="plans_activation_timeline",
                              what="activation timeline rows")]
