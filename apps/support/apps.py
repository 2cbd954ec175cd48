from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "apps.support"
    label = "support"
    verbose_name = "Customer service"

    def ready(self) -> None:
        # setup: the app registry is ready only in ready()
        from apps.mlops.runtime import adapted_base_kind, kind_register

        from .adaptation import ADAPTED_BASE
        from .intent import intent_kind

        kind_register(intent_kind())
        kind_register(adapted_base_kind(ADAPTED_BASE))
