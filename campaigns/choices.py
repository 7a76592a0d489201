from django.db import models


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    LIVE = "live", "Live"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"


class StepKind(models.TextChoices):
    WAIT = "wait", "Wait"
    BRANCH = "branch", "Branch"
    SPLIT = "split", "Split"
    SEND_SMS = "send_sms", "Send SMS"
    CREATE_TASK = "create_task", "Create call task"
    CANCEL_TASKS = "cancel_tasks", "Cancel this campaign's tasks"
    UPDATE_CONTACT = "update_contact", "Update contact properties"
    WEBHOOK = "webhook", "Webhook"
    END = "end", "End"


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    EXITED = "exited", "Exited"
    CONVERTED = "converted", "Converted"


class ConditionRole(models.TextChoices):
    TRIGGER = "trigger", "Trigger"
    EXIT = "exit", "Exit"
    BRANCH = "branch", "Branch"


class WaitUntilSubject(models.TextChoices):
    CONTACT = "contact", "Contact property"
    EVENT = "event", "Trigger event property"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
