from typing import Any

from django.http import HttpRequest

from .selectors import models_in_training


def training_notices(request: HttpRequest) -> dict[str, Any]:
    """Signed-in users see which models are still being trained for the first time (the demo
    serves its pages before its models are ready); customers' pages work without them."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"models_in_training": models_in_training()}
