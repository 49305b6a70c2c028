"""The supervision layer's API routes (included by api/urls.py under `api/`)."""

from django.urls import path

from workflows.api import appraisal as api_appraisal
from workflows.api import cycles as api_cycles
from workflows.api import extensions
from workflows.api import lights as api_lights
from workflows.api import orders as api_orders

urlpatterns = [
    path("v1/cycles/", api_cycles.CycleListView.as_view(), name="cycle-list"),
    path("v1/cycles/<int:cycle_id>/", api_cycles.CycleDetailView.as_view(), name="cycle-detail"),
    path(
        "v1/cycles/<int:cycle_id>/consolidation",
        api_cycles.CycleConsolidationView.as_view(),
        name="cycle-consolidation",
    ),
    path(
        "v1/cycles/<int:cycle_id>/inputs", api_cycles.CycleInputView.as_view(), name="cycle-input"
    ),
    path(
        "v1/cycles/<int:cycle_id>/report", api_cycles.CycleReportView.as_view(), name="cycle-report"
    ),
    path(
        "v1/cases/<int:case_id>/extension-requests",
        extensions.CaseExtensionRequestsView.as_view(),
        name="extension-request-list",
    ),
    path(
        "v1/extension-requests/<int:request_id>/decide",
        extensions.ExtensionDecideView.as_view(),
        name="extension-request-decide",
    ),
    path(
        "v1/extension-requests/<int:request_id>/withdraw",
        extensions.ExtensionWithdrawView.as_view(),
        name="extension-request-withdraw",
    ),
    path("v1/cases/<int:case_id>/orders", api_orders.CaseOrdersView.as_view(), name="order-list"),
    path(
        "v1/orders/<int:order_id>/answer", api_orders.OrderAnswerView.as_view(), name="order-answer"
    ),
    path(
        "v1/orders/<int:order_id>/history",
        api_orders.OrderHistoryView.as_view(),
        name="order-history",
    ),
    path(
        "v1/cases/<int:case_id>/instructions",
        api_orders.CaseInstructionsView.as_view(),
        name="instruction-list",
    ),
    path(
        "v1/instructions/<int:instruction_id>/reply",
        api_orders.InstructionReplyView.as_view(),
        name="instruction-reply",
    ),
    path("v1/appraisal/", api_appraisal.AppraisalView.as_view(), name="appraisal"),
    path("v1/appraisal/scores", api_appraisal.ScoreListView.as_view(), name="appraisal-scores"),
    path("v1/ledger.xlsx", api_appraisal.LedgerXlsxView.as_view(), name="ledger-xlsx"),
    path("v1/ledger.docx", api_appraisal.LedgerDocxView.as_view(), name="ledger-docx"),
    path("v1/cases/<int:case_id>/lights", api_lights.CaseLightsView.as_view(), name="case-lights"),
]
