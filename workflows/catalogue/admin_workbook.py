"""The catalogue's Excel import and export in the admin (Catalogue sources): the same workbook
as `export_catalogue` / `load_catalogue FILE.xlsx`, each use on the audit trail."""

import hashlib
import tempfile
from pathlib import Path

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflows.audit.trail import audit_record
from workflows.catalogue.reading import CatalogueError
from workflows.catalogue.xlsx_export import catalogue_export
from workflows.catalogue.xlsx_import import catalogue_load_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_BYTES = 10 * 1024 * 1024


class WorkbookImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Workbook (.xlsx)"),
        help_text=gettext_lazy(
            "The layout of “Export to Excel”. A file with an error changes nothing."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".xlsx"):
            raise forms.ValidationError(_("Choose an Excel workbook (.xlsx)."))
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 10 MB."))
        return upload


class CatalogueWorkbookAdminMixin:
    """Adds "Import from Excel" and "Export to Excel" to an admin's list page."""

    change_list_template = "admin/workflows/cataloguesource/change_list.html"

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path("workbook/export/", view(self.workbook_export), name=f"{name}_workbook_export"),
            path("workbook/import/", view(self.workbook_import), name=f"{name}_workbook_import"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_import": self.has_change_permission(request)}
        return super().changelist_view(request, extra_context)

    def _changelist(self):
        return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")

    def workbook_export(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            content = catalogue_export()
        except CatalogueError as exc:
            messages.error(request, exc.message)
            return self._changelist()
        audit_record(
            verb="catalogue_exported",
            actor=request.user,
            data={"bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()},
        )
        response = HttpResponse(content, content_type=XLSX)
        filename = f"catalogue-{timezone.localdate().isoformat()}.xlsx"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def workbook_import(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = WorkbookImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            with tempfile.TemporaryDirectory() as folder:
                stored = Path(folder) / "upload.xlsx"
                with stored.open("wb") as handle:
                    for chunk in upload.chunks():
                        handle.write(chunk)
                try:
                    with transaction.atomic():
                        result = catalogue_load_workbook(path=stored)
                        audit_record(
                            verb="catalogue_imported",
                            actor=request.user,
                            data={
                                "file": upload.name,
                                "sha256": hashlib.sha256(stored.read_bytes()).hexdigest(),
                                "rows": result.rows,
                                "summary": result.summary(),
                            },
                        )
                except CatalogueError as exc:
                    exc.file = Path(upload.name)  # the name the admin knows, not the temp file
                    form.add_error("file", str(exc))
                else:
                    messages.success(request, result.summary())
                    for warning in result.warnings:
                        messages.warning(request, warning)
                    return self._changelist()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Import the catalogue from Excel"),
            "form": form,
        }
        return TemplateResponse(
            request, "admin/workflows/cataloguesource/workbook_import.html", context
        )
