from django.urls import path

from billing import api

urlpatterns = [
    path("api/v1/billing/invoices/<str:number>", api.invoice_detail, name="api-billing-invoice")
]
