from django.urls import path

from compliance.web import evidence, gateways, oidc, transparency, views, webhooks

app_name = "web"
urlpatterns = [
    path("login/", oidc.LoginView.as_view(), name="login"),
    path("logout/", oidc.LogoutView.as_view(), name="logout"),
    # Single sign-on (R40); 404 unless OIDC_ISSUER is set.
    path("auth/oidc/login/", oidc.oidc_login, name="oidc_login"),
    path("auth/oidc/callback/", oidc.oidc_callback, name="oidc_callback"),
    path("", views.dashboard, name="dashboard"),
    path("releases/", views.release_list, name="releases"),
    path("releases/<slug:slug>/", views.release_detail, name="release"),
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
    path("requests/<int:pk>/status/", views.request_status, name="request_status"),
    path("audit/", views.audit_log, name="audit"),
    path("audit/verify/", views.audit_verify, name="audit_verify"),
    path("audit/checkpoint/verify/", transparency.checkpoint_verify, name="checkpoint_verify"),
    path("audit/witnesses/", transparency.witness_list, name="witnesses"),
    path("reminders/", views.reminder_log, name="reminders"),
    path("webhooks/", webhooks.webhook_list, name="webhooks"),
    path("webhooks/<int:pk>/", webhooks.webhook_detail, name="webhook"),
    path("webhooks/<int:pk>/rotate-secret/", webhooks.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<int:pk>/test/", webhooks.webhook_ping, name="webhook_ping"),
    path("gateways/", gateways.gateway_list, name="gateways"),
    path("evidence/", evidence.evidence_list, name="evidence_list"),
    path("evidence/upload/", evidence.evidence_upload, name="evidence_upload"),
    path("evidence/<int:pk>/", evidence.evidence_detail, name="evidence"),
    path("evidence/<int:pk>/file/", evidence.evidence_file, name="evidence_file"),
    path("gateways/register/", gateways.gateway_register, name="gateway_register"),
]
