from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class StreamCounter(models.Model):
    """The last ``seq`` handed out on a live stream (``console``, ``department.<code>``)."""

    stream = models.CharField(max_length=80, primary_key=True)
    last = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.stream}: {self.last}"


class LiveEvent(models.Model):
    """One live event on one stream, numbered without gaps in the transaction of the change.

    Sent after commit by ``dispatch.live.publish``; a client that missed some (a dropped connection, the
    at-most-once channel layer) gets them again from here with ``?since=<seq>``.
    """

    stream = models.CharField(max_length=80)
    seq = models.PositiveBigIntegerField()
    type = models.CharField(max_length=64)
    at = models.DateTimeField()
    payload = models.JSONField(encoder=DjangoJSONEncoder)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stream", "seq"], name="live_event_stream_seq")]

    def __str__(self):
        return f"{self.stream}#{self.seq} {self.type}"

    def message(self) -> dict:
        return {"seq": self.seq, "type": self.type, "at": self.at.isoformat(), **self.payload}
