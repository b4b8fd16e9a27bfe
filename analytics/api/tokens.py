"""The page where a signed-in person makes, lists and revokes their own API tokens.

Tokens are django-rest-knox's: the database keeps only a SHA-512 digest and an expiry
(settings.REST_KNOX), so a token is shown once, on the page that made it, and never again; the
list shows when each was made, when it expires and the first characters of its digest (never the
token's own first characters, which knox keeps to find it and which are part of the secret).
Every read and write is filtered on the signed-in user: nobody, an operator included, can see or
revoke another person's token (a digest that is not theirs gets the same 404 as one that does
not exist).
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from knox.models import AuthToken
from knox.settings import knox_settings

DIGEST_SHOWN = 8
TEMPLATE = "analytics/api/tokens.html"
# knox stores a hex digest; anything else posted as one names no token, and is not looked up:
# PostgreSQL refuses a NUL in a query parameter (a 500 otherwise).
DIGEST = re.compile(r"[0-9a-f]{1,128}")


def _rows(request: HttpRequest) -> list[dict[str, Any]]:
    now = timezone.now()
    tokens = AuthToken.objects.filter(user_id=request.user.pk).order_by("-created", "digest")
    return [
        {
            "digest": token.digest,
            "digest_prefix": token.digest[:DIGEST_SHOWN],
            "created": token.created,
            "expiry": token.expiry,
            "expired": token.expiry is not None and token.expiry <= now,
        }
        for token in tokens
    ]


def _page(request: HttpRequest, *, status: int = 200, **context: Any) -> HttpResponse:
    limit = knox_settings.TOKEN_LIMIT_PER_USER
    ttl = knox_settings.TOKEN_TTL
    rows = _rows(request)
    context = {
        "tokens": rows,
        "limit": limit,
        "at_limit": limit is not None and len(rows) >= limit,
        "ttl_days": ttl.days if ttl is not None else None,
        **context,
    }
    return render(request, TEMPLATE, context, status=status)


@never_cache
@login_required
@require_GET
def tokens_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@never_cache  # the response carries the new token: no cache may keep it
@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    """Makes a token and shows it once. Rendered, not redirected: the token is nowhere else."""
    limit = knox_settings.TOKEN_LIMIT_PER_USER
    # No lock: two simultaneous clicks may end one over the limit, which is a convenience cap
    # (a page to keep tidy), not a protection.
    if limit is not None and AuthToken.objects.filter(user_id=request.user.pk).count() >= limit:
        return _page(request, status=409, error=f"You already have {limit} tokens: revoke one before making another.")
    instance, token = AuthToken.objects.create(user=request.user)
    return _page(request, status=201, new_token=token, new_expiry=instance.expiry)


@never_cache
@login_required
@require_POST
def token_revoke(request: HttpRequest) -> HttpResponse:
    """Deletes one of the signed-in user's tokens: the next call with it gets 401."""
    digest = request.POST.get("digest", "")
    deleted = 0
    if DIGEST.fullmatch(digest):
        deleted, _ = AuthToken.objects.filter(user_id=request.user.pk, digest=digest).delete()
    if not deleted:
        raise Http404("No such token of yours.")
    messages.success(request, f"Token {digest[:DIGEST_SHOWN]}\u2026 revoked: it no longer works.")
    return redirect("api:tokens")
