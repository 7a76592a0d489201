from django.db import models


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    VOICE = "voice", "Voice"
    EMAIL = "email", "Email"


class IdentifierKind(models.TextChoices):
    USER_ID = "user_id", "userId"
    ANONYMOUS_ID = "anonymous_id", "anonymousId"
