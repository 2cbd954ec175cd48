import importlib
import os

from django.apps import AppConfig


class MlopsConfig(AppConfig):
    name = "apps.mlops"
    label = "mlops"
    verbose_name = "Model lifecycle"

    def ready(self) -> None:
        # Extra model kinds from outside the apps (a site's own models, the test kinds):
        # ML_KIND_MODULES="pkg.kinds,other.kinds"; each module registers kinds on import.
        for module in filter(None, os.environ.get("ML_KIND_MODULES", "").split(",")):
            importlib.import_module(module.strip())
