from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

auth_patterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"
    ),
]

urlpatterns = [
    *auth_patterns,
    path("", views.home, name="home"),
    path("o/<slug:slug>/settings/", views.organization_settings, name="organization_settings"),
    path(
        "o/<slug:slug>/settings/preferences/",
        views.organization_preferences,
        name="organization_preferences",
    ),
    path("o/<slug:slug>/audit/", views.organization_audit_log, name="organization_audit_log"),
]
