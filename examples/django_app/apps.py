"""The example's own app: the shop's orders."""

from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "examples.django_app"
    label = "shop"
    default_auto_field = "django.db.models.BigAutoField"
