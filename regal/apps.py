from django.apps import AppConfig


class RegalConfig(AppConfig):
    name = "regal"
    verbose_name = "Regal"
