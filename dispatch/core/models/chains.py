"""The columns and the append-only guard every hash-chained timeline other than an incident's shares (a plan
activation's, a major event's): a concrete table adds its owner's foreign key and its ``Meta`` (ordering, the unique
``(owner, seq)``), and names the owner in ``chain_owner``. Written by ``dispatch.core.chains.chain_append`` only; the
database refuses UPDATE and DELETE as well (``dispatch.core.append_only``)."""

from typing import Any, ClassVar, NoReturn

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from .timeline import AppendOnlyError


class ChainRow(models.Model):
    chain_owner: ClassVar[str]  # the owner's foreign key (``activation``, ``major_event``)

    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=64)
    actor = models.ForeignKey("dispatch.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(max_length=150)
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{getattr(self, f'{self.chain_owner}_id')}#{self.seq} {self.kind}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.verbose_name} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{self._meta.verbose_name} rows are append-only")
