from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "apps.support"
    label = "support"
    verbose_name = "Customer service"

    def ready(self) -> None:
        # setup: the app registry is ready only in ready()
        from apps.core.language_backfill import language_target_register
        from apps.mlops.runtime import adapted_base_kinds, kind_register

        from .adaptation import ADAPTED_BASE
        from .intent import intent_kind
        from .services.languages import LANGUAGE_TARGETS

        kind_register(intent_kind())
        for kind in adapted_base_kinds(ADAPTED_BASE):
            kind_register(kind)
        for target in LANGUAGE_TARGETS:
            language_target_register(target)
