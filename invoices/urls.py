from django.urls import path

from . import views

urlpatterns = [
    path("o/<slug:slug>/invoices/", views.invoice_list, name="invoice_list"),
    path("o/<slug:slug>/invoices/pdf/<str:token>/", views.invoice_pdf_download, name="invoice_pdf_download"),
    path("o/<slug:slug>/invoices/xml/<str:token>/", views.invoice_xml_download, name="invoice_xml_download"),
    path(
        "o/<slug:slug>/invoices/credit-notes/<str:number>/",
        views.credit_note_detail,
        name="invoice_credit_note_detail",
    ),
    path("o/<slug:slug>/invoices/<str:number>/", views.invoice_detail, name="invoice_detail"),
]
