"""Request wiring that no single view should have to repeat."""

from django.http import Http404, HttpResponseBadRequest, JsonResponse

# The largest id a row can have (64-bit). Larger numbers match `<int:...>` routes, but the
# database driver raises on them (a 500) instead of finding nothing; found by fuzzing the API.
MAX_ID = 2**63 - 1


class OutOfRangeIdMiddleware:
    """404 for any route whose integer id cannot exist, before the view queries with it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        values = [*view_args, *view_kwargs.values()]
        if any(isinstance(value, int) and value > MAX_ID for value in values):
            raise Http404
        return None


class NulInQueryMiddleware:
    """400 for a query string holding a NUL character: PostgreSQL cannot compare a string
    with one in it and would answer any filter on it with an error (a 500)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if any(
            "\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists()
        ):
            message = "A query parameter holds a NUL character."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=400)
            return HttpResponseBadRequest(message)
        return self.get_response(request)
