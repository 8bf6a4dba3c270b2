from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "organizations"

    def ready(self):
        from django.contrib.auth.signals import user_login_failed

        from .throttling import login_failed

        user_login_failed.connect(login_failed, dispatch_uid="organizations.throttling.login_failed")
