"""The host's own table: an order row written in the same transaction as its booking."""

from django.db import models


class Order(models.Model):
    reservation_id = models.CharField(max_length=36, unique=True)
    schedule_id = models.CharField(max_length=64)
    user_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"order for {self.reservation_id}"
