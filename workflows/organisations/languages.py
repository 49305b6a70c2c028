"""The language a person reads: kept on their profile, applied when they log in.

The switch (`web/system.set_language`) stores a signed-in person's choice on their Profile, so
their pages on any device and their mail follow it; a choice made on the login page waits in
the session and is stored at login. At login the profile's language, once they have chosen
one, becomes the language cookie that LocaleMiddleware reads from then on.
"""

from django.conf import settings
from django.utils import translation

from workflows.models import Profile

CHOSEN_BEFORE_LOGIN = "reformflow_language_chosen"
APPLY_AFTER_LOGIN = "reformflow_language_apply"


def is_offered(language: str | None) -> bool:
    return language in dict(settings.LANGUAGES)


def language_choice_keep(*, request, language: str) -> None:
    """The switch was used: keep the choice on the profile, or in the session until login."""
    if not is_offered(language):
        return
    if request.user.is_authenticated:
        from workflows.organisations.profiles import profile_language_set

        profile_language_set(user=request.user, language=language)
    else:
        request.session[CHOSEN_BEFORE_LOGIN] = language


def language_at_login(*, request, user) -> None:
    """On login: a language chosen on the login page goes to the profile; otherwise the
    profile's language (if any was ever chosen) is applied by the middleware below."""
    session = getattr(request, "session", None)
    if session is None:
        return
    chosen = session.pop(CHOSEN_BEFORE_LOGIN, None)
    if is_offered(chosen):
        from workflows.organisations.profiles import profile_language_set

        profile_language_set(user=user, language=chosen)
        return
    stored = Profile.objects.filter(user=user).values_list("language", flat=True).first()
    if is_offered(stored):
        session[APPLY_AFTER_LOGIN] = stored


class ProfileLanguageMiddleware:
    """Applies the language `language_at_login` left in the session: to this request (after
    a login in another request, e.g. a test's force_login) and as the language cookie of the
    response, the login's redirect included. Placed after LocaleMiddleware, which it overrides
    once; the cookie decides from then on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = self._take(request)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        language = language or self._take(request)
        if language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response

    @staticmethod
    def _take(request) -> str | None:
        session = getattr(request, "session", None)
        if session is None or APPLY_AFTER_LOGIN not in session:
            return None
        language = session.pop(APPLY_AFTER_LOGIN)
        return language if is_offered(language) else None
