from django.urls import path

from . import views

app_name = "recommender"
urlpatterns = [
    path("", views.home, name="home"),
    path("item/<int:item_id>/", views.item_detail, name="item"),
    path("item/<int:item_id>/review/", views.review, name="review"),
    path("cart/", views.cart_view, name="cart"),
    path("cart/add/<int:item_id>/", views.cart_add, name="cart-add"),
    path("cart/remove/<int:item_id>/", views.cart_remove, name="cart-remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("join/", views.signup, name="signup"),
    path("placeholder/<int:item_id>.svg", views.placeholder, name="placeholder"),
    path("manage/", views.manage, name="manage"),
    path("manage/placements/", views.placements, name="placements"),
    path("manage/imports/<int:job_id>/", views.catalog_import_page, name="catalog_import"),
    path("experiments/", views.experiments, name="experiments"),
    path("experiments/<int:experiment_id>/", views.experiment_detail, name="experiment"),
]
