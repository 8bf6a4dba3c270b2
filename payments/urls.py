from django.urls import path

from payments import views
from payments.webhooks import stripe_webhook

urlpatterns = [
    path("stripe/webhook/", stripe_webhook, name="stripe_webhook"),
    path("o/<slug:slug>/billing/payments/", views.payments, name="billing_payments"),
    path("o/<slug:slug>/billing/payments/card/", views.card_add, name="billing_card_add"),
    path("o/<slug:slug>/billing/payments/card/added/", views.card_added, name="billing_card_added"),
    path("o/<slug:slug>/billing/payments/portal/", views.billing_portal, name="billing_portal"),
    path(
        "o/<slug:slug>/billing/payments/invoices/<int:invoice_id>/pay/",
        views.invoice_pay_now,
        name="billing_invoice_pay_now",
    ),
    path(
        "o/<slug:slug>/billing/payments/confirm/<int:attempt_id>/",
        views.payment_confirm,
        name="billing_payment_confirm",
    ),
    path(
        "o/<slug:slug>/billing/payments/confirm/<int:attempt_id>/done/",
        views.payment_confirm_done,
        name="billing_payment_confirm_done",
    ),
    path("o/<slug:slug>/billing/payments/receipts/<str:number>/", views.receipt, name="billing_receipt"),
    path(
        "o/<slug:slug>/billing/payments/credit-notes/<int:credit_note_id>/refund/",
        views.credit_note_refund,
        name="billing_credit_note_refund",
    ),
]
