from django.urls import path
from django.views.generic import TemplateView

app_name = "recommender"
urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("experiments/", TemplateView.as_view(template_name="home.html"), name="experiments"),
]
