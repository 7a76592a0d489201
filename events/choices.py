from django.db import models


class EventType(models.TextChoices):
    TRACK = "track", "Track"
    IDENTIFY = "identify", "Identify"
    PAGE = "page", "Page"
    SCREEN = "screen", "Screen"
    ALIAS = "alias", "Alias"
    GROUP = "group", "Group"


class LogLevel(models.TextChoices):
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class PropertyScope(models.TextChoices):
    EVENT = "event", "Event property"
    CONTACT = "contact", "Contact trait"


class PropertyType(models.TextChoices):
    STRING = "string", "Text"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "True/false"
    DATETIME = "datetime", "Date and time"
    OBJECT = "object", "Object"
    ARRAY = "array", "List"
    NULL = "null", "Empty"
