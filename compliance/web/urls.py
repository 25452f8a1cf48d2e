from django.contrib.auth import views as auth_views
from django.urls import path

from compliance.web import calendar, editing, gateways, manage, profile, views, webhooks

app_name = "web"
urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.dashboard, name="dashboard"),
    path("releases/", views.release_list, name="releases"),
    path("releases/new/", editing.release_new, name="release_new"),
    path("releases/<slug:slug>/", views.release_detail, name="release"),
    path("releases/<slug:slug>/edit/", editing.release_edit, name="release_edit"),
    path("releases/<slug:slug>/submit/", views.release_submit, name="release_submit"),
    path("releases/<slug:slug>/transition/", views.release_transition, name="release_transition"),
    path("releases/<slug:slug>/signoffs/decide/", views.signoff_decide, name="signoff_decide"),
    path(
        "releases/<slug:slug>/signoffs/withdraw/", views.signoff_withdraw, name="signoff_withdraw"
    ),
    path("allowlist/", views.allowlist, name="allowlist"),
    path("allowlist/propose/", views.allowlist_propose, name="allowlist_propose"),
    path("allowlist/<int:pk>/decide/", views.allowlist_decide, name="allowlist_decide"),
    path("allowlist/<int:pk>/revoke/", views.allowlist_revoke, name="allowlist_revoke"),
    path("requests/", views.request_list, name="requests"),
    path("requests/new/", views.request_new, name="request_new"),
    path("requests/<int:pk>/", views.request_detail, name="request"),
    path("requests/<int:pk>/edit/", editing.request_edit, name="request_edit"),
    path("requests/<int:pk>/status/", views.request_status, name="request_status"),
    path("audit/", views.audit_log, name="audit"),
    path("audit/verify/", views.audit_verify, name="audit_verify"),
    path("reminders/", views.reminder_log, name="reminders"),
    path("webhooks/", webhooks.webhook_list, name="webhooks"),
    path("webhooks/<int:pk>/", webhooks.webhook_detail, name="webhook"),
    path("webhooks/<int:pk>/rotate-secret/", webhooks.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<int:pk>/test/", webhooks.webhook_ping, name="webhook_ping"),
    path("gateways/", gateways.gateway_list, name="gateways"),
    path("gateways/register/", gateways.gateway_register, name="gateway_register"),
    path("agencies/", manage.agency_list, name="agencies"),
    path("agencies/<str:code>/", manage.agency_edit, name="agency"),
    path("partners/", manage.partner_list, name="partners"),
    path("partners/<int:pk>/", manage.partner_edit, name="partner"),
    path("users/", manage.user_list, name="users"),
    path("users/<str:username>/", manage.user_edit, name="user"),
    path("users/<str:username>/deactivate/", manage.user_deactivate, name="user_deactivate"),
    path("profile/", profile.profile, name="profile"),
    path("profile/time-zone/", profile.profile_time_zone, name="profile_time_zone"),
    path("profile/tokens/", profile.token_create, name="token_create"),
    path("profile/tokens/<str:digest>/revoke/", profile.token_revoke, name="token_revoke"),
    path("profile/calendar/", profile.calendar_regenerate, name="calendar_regenerate"),
    path("profile/calendar/revoke/", profile.calendar_revoke, name="calendar_revoke"),
    path("calendar/<str:secret>.ics", calendar.calendar_feed, name="calendar"),
]
