from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Connects the failed sign-in counter (a signal receiver); setup: once the registry is
        # ready.
        from . import login_throttle  # noqa: F401
