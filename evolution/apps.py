from django.apps import AppConfig


class EvolutionConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "evolution"

    def ready(self) -> None:
        # Services enqueue jobs through a sender they are given; the Celery layer is that sender.
        from evolution import tasks
        from evolution.services import jobs

        jobs.set_sender(tasks.send)
