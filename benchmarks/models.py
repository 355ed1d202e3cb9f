from django.db import models


class Probe(models.Model):
    """One row per request of the baseline endpoint (``POST /bench/baseline/``): the cheapest write the stack
    can do, the yardstick for the CPU an incident costs."""

    created_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=200, blank=True)

    def __str__(self):
        return f"probe {self.pk}"
