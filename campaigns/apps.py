from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        from campaigns.schedules import ensure_schedules

        # After every migrate (and every flush in the test suite), so the
        # ticker exists wherever the database does.
        post_migrate.connect(ensure_schedules, sender=self)
