from django.urls import path
from django.views.generic import TemplateView

app_name = "support"
urlpatterns = [
    path("console/", TemplateView.as_view(template_name="home.html"), name="console"),
    path("chat/", TemplateView.as_view(template_name="home.html"), name="chat"),
]
