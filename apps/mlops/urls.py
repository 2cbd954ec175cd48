from django.urls import path

from . import views

app_name = "mlops"
urlpatterns = [
    path("", views.model_list, name="models"),
]
