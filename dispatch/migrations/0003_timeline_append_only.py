"""The database itself refuses UPDATE and DELETE on timeline rows (PostgreSQL and SQLite)."""

from django.db import migrations

from dispatch.core.append_only import append_only


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0002_initial")]
    operations = [append_only(table="dispatch_timelineevent", name="dispatch_timeline", what="timeline rows")]
