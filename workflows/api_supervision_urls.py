"""The supervision layer's API routes (included by api_urls.py under `api/`)."""

from django.urls import path

from . import api_supervision as views

urlpatterns = [
    path("v1/cycles/", views.CycleListView.as_view(), name="cycle-list"),
    path("v1/cycles/<int:cycle_id>/", views.CycleDetailView.as_view(), name="cycle-detail"),
    path(
        "v1/cycles/<int:cycle_id>/consolidation",
        views.CycleConsolidationView.as_view(),
        name="cycle-consolidation",
    ),
    path("v1/cycles/<int:cycle_id>/inputs", views.CycleInputView.as_view(), name="cycle-input"),
    path("v1/cycles/<int:cycle_id>/report", views.CycleReportView.as_view(), name="cycle-report"),
    path(
        "v1/cases/<int:case_id>/extension-requests",
        views.CaseExtensionRequestsView.as_view(),
        name="extension-request-list",
    ),
    path(
        "v1/extension-requests/<int:request_id>/decide",
        views.ExtensionDecideView.as_view(),
        name="extension-request-decide",
    ),
    path(
        "v1/extension-requests/<int:request_id>/withdraw",
        views.ExtensionWithdrawView.as_view(),
        name="extension-request-withdraw",
    ),
    path("v1/cases/<int:case_id>/orders", views.CaseOrdersView.as_view(), name="order-list"),
    path("v1/orders/<int:order_id>/answer", views.OrderAnswerView.as_view(), name="order-answer"),
    path(
        "v1/orders/<int:order_id>/history", views.OrderHistoryView.as_view(), name="order-history"
    ),
    path(
        "v1/cases/<int:case_id>/instructions",
        views.CaseInstructionsView.as_view(),
        name="instruction-list",
    ),
    path(
        "v1/instructions/<int:instruction_id>/reply",
        views.InstructionReplyView.as_view(),
        name="instruction-reply",
    ),
    path("v1/appraisal/", views.AppraisalView.as_view(), name="appraisal"),
    path("v1/appraisal/scores", views.ScoreListView.as_view(), name="appraisal-scores"),
    path("v1/ledger.xlsx", views.LedgerXlsxView.as_view(), name="ledger-xlsx"),
    path("v1/ledger.docx", views.LedgerDocxView.as_view(), name="ledger-docx"),
    path("v1/cases/<int:case_id>/lights", views.CaseLightsView.as_view(), name="case-lights"),
]
