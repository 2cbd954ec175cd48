from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "apps.recommender"
    label = "recommender"
