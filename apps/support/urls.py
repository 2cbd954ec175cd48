from django.urls import path

from . import views

app_name = "support"
urlpatterns = [
    path("console/", views.console, name="console"),
    path("chat/", views.chat, name="chat"),
    path("stats/", views.stats, name="stats"),
    path("knowledge/", views.knowledge, name="knowledge"),
    path("articles/<int:pk>/", views.article_detail, name="article"),
]
