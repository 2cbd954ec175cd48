from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.accounts.models import Role
from apps.accounts.roles import role_required

from .models import ModelVersion, PromotionEvent, TrainingRun


@role_required(Role.ML_ADMIN)
def model_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "mlops/model_list.html",
        {
            "versions": ModelVersion.objects.all()[:200],
            "events": PromotionEvent.objects.all()[:50],
            "runs": TrainingRun.objects.all()[:50],
        },
    )
