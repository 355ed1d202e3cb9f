from django.core.management.base import BaseCommand
from django.db import connection, transaction

from dispatch.core.crypto import rotate


class Command(BaseCommand):
    help = "Re-encrypt every reporter's personal data with the newest key in PII_KEYS (after adding a key)."

    def handle(self, *args, **options):
        done = 0
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT id, reporter_name, reporter_phone FROM dispatch_incident")
            rows = cursor.fetchall()
            for pk, name, phone in rows:
                cursor.execute(
                    "UPDATE dispatch_incident SET reporter_name = %s, reporter_phone = %s WHERE id = %s",
                    [rotate(name or ""), rotate(phone or ""), pk],
                )
                done += 1
        self.stdout.write(f"re-encrypted the reporter data of {done} incidents with the newest key")
