"""Pages: thin views that read through selectors and write through services."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from . import access, forms, health, selectors, services
from .models import AuditEvent, CatalogueSource, Evidence, Measure, StepKind, WorkItem

PAGE_SIZE = 50


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


@login_required
def home(request):
    user = request.user
    context = {
        "is_coordinator": access.is_coordinator(user),
        "is_auditor": access.is_auditor(user),
        "inbox_count": selectors.work_item_list_inbox(user).count(),
        "queue_count": selectors.work_item_list_queue(user).count(),
        "source": CatalogueSource.objects.first(),
    }
    return render(request, "workflows/home.html", context)


@login_required
def dashboard(request):
    return render(
        request,
        "workflows/dashboard.html",
        {
            "aspects": selectors.programme_rows(request.user),
            "source": CatalogueSource.objects.first(),
            "is_coordinator": access.is_coordinator(request.user),
        },
    )


def _task_list(request, queryset, *, title, empty, template="workflows/task_list.html"):
    return render(
        request, template, {"page": _page(request, queryset), "title": title, "empty": empty}
    )


@login_required
def inbox(request):
    return _task_list(
        request,
        selectors.work_item_list_inbox(request.user),
        title=_("Inbox"),
        empty=_("Nothing waits for you. Tasks assigned to you will appear here."),
    )


@login_required
def queue(request):
    return _task_list(
        request,
        selectors.work_item_list_queue(request.user),
        title=_("Queue"),
        empty=_("No unclaimed tasks in your departments' queues."),
    )


@login_required
def archive(request):
    return _task_list(
        request,
        selectors.work_item_list_archive(request.user),
        title=_("Archive"),
        empty=_("Tasks you complete will be listed here."),
    )


def _visible_case(user, case_id):
    if not access.case_list_visible(user).filter(pk=case_id).exists():
        raise Http404
    return selectors.case_get_detail(case_id)


@login_required
def case_detail(request, case_id):
    case = _visible_case(request.user, case_id)
    events = AuditEvent.objects.filter(case=case).select_related("work_item__step").order_by("pk")
    return render(
        request,
        "workflows/case_detail.html",
        {
            "case": case,
            "items": selectors.work_item_list_for_case(case),
            "events": events,
            "progress": case.progress_updates.select_related("author", "work_item__step"),
            "evidence": case.evidence.select_related("uploaded_by", "work_item__step"),
            "comments": case.comments.select_related("author"),
            "comment_form": forms.CommentForm(),
            "can_comment": not access.is_auditor(request.user),
            "is_coordinator": access.is_coordinator(request.user),
        },
    )


@login_required
@require_POST
def case_comment(request, case_id):
    case = _visible_case(request.user, case_id)
    form = forms.CommentForm(request.POST)
    if form.is_valid():
        try:
            services.comment_add(case=case, user=request.user, text=form.cleaned_data["text"])
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, _message(exc))
    return redirect(reverse("workflows:case", args=[case.pk]) + "#comments")


def _message(exc) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def _form_for(item: WorkItem, data=None, files=None):
    if item.kind == StepKind.SUBMIT:
        return forms.SubmitForm(data, files)
    if item.kind == StepKind.IMPLEMENT:
        if data is not None and data.get("action") == "complete":
            return forms.CompleteImplementationForm(data)
        return forms.ProgressForm(data, files)
    return forms.DecisionForm(data)


def _apply(form, item: WorkItem, user, action: str):
    data = form.cleaned_data
    if item.kind == StepKind.SUBMIT:
        if action == "claim":
            return services.task_claim(item=item, user=user)
        return services.task_submit(
            item=item, user=user, note=data["note"], files=data.get("files") or []
        )
    if item.kind == StepKind.IMPLEMENT:
        if action == "complete":
            return services.task_complete(item=item, user=user, note=data.get("note", ""))
        return services.progress_report(
            item=item,
            user=user,
            percent=data["percent"],
            note=data["note"],
            files=data.get("files") or [],
        )
    if data["decision"] == "return":
        return services.task_return(item=item, user=user, reason=data["comment"])
    return services.task_approve(item=item, user=user, comment=data["comment"])


@login_required
def task_detail(request, task_id):
    item = WorkItem.objects.select_related("case", "step", "assignee").filter(pk=task_id).first()
    if item is None or not access.can_view_case(request.user, item.case):
        raise Http404
    case = selectors.case_get_detail(item.case_id)
    try:
        access.check_can_act(request.user, item)
        refusal = ""
    except PermissionDenied as exc:
        refusal = str(exc)
    action = request.POST.get("action", "")
    form = _form_for(item)
    if request.method == "POST":
        if action == "claim":
            try:
                services.task_claim(item=item, user=request.user)
                messages.success(request, _("The task is yours."))
            except (PermissionDenied, services.TaskConflict) as exc:
                messages.error(request, str(exc))
            return redirect("workflows:task", task_id=item.pk)
        form = _form_for(item, request.POST, request.FILES)
        if form.is_valid():
            try:
                _apply(form, item, request.user, action)
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error("files" if "files" in form.fields else None, message)
            except (PermissionDenied, services.TaskConflict) as exc:
                messages.error(request, str(exc))
                return redirect("workflows:task", task_id=item.pk)
            else:
                messages.success(request, _("Saved."))
                if item.kind == StepKind.IMPLEMENT and action != "complete":
                    return redirect("workflows:task", task_id=item.pk)
                return redirect("workflows:case", case_id=item.case_id)
    return render(
        request,
        "workflows/task_detail.html",
        {
            "item": item,
            "case": case,
            "form": form,
            "complete_form": forms.CompleteImplementationForm()
            if item.kind == StepKind.IMPLEMENT
            else None,
            "refusal": refusal,
            "can_claim": item.is_open
            and item.assignee_id is None
            and access.is_candidate(request.user, item),
            "is_coordinator": access.is_coordinator(request.user),
            "reassign_form": forms.ReassignForm(),
            "evidence": item.evidence.all(),
        },
    )


@login_required
@require_POST
def task_reassign(request, task_id):
    if not access.is_coordinator(request.user):
        raise PermissionDenied
    item = WorkItem.objects.filter(pk=task_id).first()
    if item is None:
        raise Http404
    form = forms.ReassignForm(request.POST)
    if form.is_valid():
        try:
            services.task_reassign(
                item=item,
                by=request.user,
                to_user=form.cleaned_data["to"],
                reason=form.cleaned_data["reason"],
            )
            messages.success(request, _("Reassigned."))
        except (ValidationError, services.TaskConflict) as exc:
            messages.error(request, _message(exc))
    else:
        messages.error(request, _("Choose the new assignee and give a reason."))
    return redirect("workflows:task", task_id=task_id)


@login_required
def launch(request):
    if not access.is_coordinator(request.user):
        raise PermissionDenied
    form = forms.LaunchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["all_measures"]:
            measures = list(Measure.objects.order_by("aspect__position", "position"))
        elif form.cleaned_data["measure"]:
            measures = [form.cleaned_data["measure"]]
        else:
            form.add_error("measure", _("Choose a measure, or tick “Launch every measure”."))
            measures = []
        if measures:
            created = 0
            for measure in measures:
                _case, was_created = services.case_launch(measure=measure, by=request.user)
                created += was_created
            messages.success(
                request,
                _("%(created)d case(s) launched, %(skipped)d already open.")
                % {"created": created, "skipped": len(measures) - created},
            )
            return redirect("workflows:dashboard")
    return render(request, "workflows/launch.html", {"form": form})


@login_required
def evidence_download(request, evidence_id):
    evidence = Evidence.objects.filter(pk=evidence_id).select_related("case").first()
    if evidence is None or not access.can_view_case(request.user, evidence.case):
        raise Http404
    response = FileResponse(
        evidence.file.open("rb"),
        as_attachment=True,
        filename=evidence.original_name,
        content_type="application/octet-stream",
    )
    # Always a download, never rendered by the browser, whatever the file holds; set here as
    # well as by SecurityMiddleware so the guarantee does not hang on one setting.
    response["X-Content-Type-Options"] = "nosniff"
    return response


@never_cache
@require_GET
def healthz(request):
    """Public health check: 200 when the database answers, else 503; names no host or secret."""
    report, healthy = health.health_report()
    return JsonResponse(report, status=200 if healthy else 503)


def page_not_found(request, exception):
    """404 for any URL: JSON under /api/ (e.g. a malformed id), the HTML page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
