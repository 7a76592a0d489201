from django.db import models


class EventType(models.TextChoices):
    TRACK = "track", "Track"
    IDENTIFY = "identify", "Identify"
    PAGE = "page", "Page"
    SCREEN = "screen", "Screen"
