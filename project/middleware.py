"""Request wiring that no single view should have to repeat."""

from django.http import Http404

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
