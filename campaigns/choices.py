from django.db import models


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    LIVE = "live", "Live"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"


class StepKind(models.TextChoices):
    WAIT = "wait", "Wait"
    SEND_SMS = "send_sms", "Send SMS"


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    EXITED = "exited", "Exited"
