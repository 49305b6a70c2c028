"""Complete Chinese: the catalogue has no empty or fuzzy entry, and the main pages read by a
zh-hans user show none of the catalogue's English source strings."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.casework import claim, open_item_of, routed_user, submit

PO = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"

# Source strings that read the same in Chinese (names, codes, units) or that are too short
# or too common to tell an untranslated page from a translated one.
ALLOWED = {"Reformflow", "Email", "CSV", "XLSX", "PDF", "ID", "UTC", "IP address"}


def po_entries():
    """(msgid, msgstr list, flags) of every active entry in the zh_Hans catalogue."""
    text = PO.read_text(encoding="utf-8")
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#~")]
        if not any(line.startswith("msgid ") for line in lines):
            continue
        flags = " ".join(line for line in lines if line.startswith("#,"))
        current, parts = None, {}
        for line in lines:
            match = re.match(r'^(msgid|msgid_plural|msgstr(?:\[\d\])?|msgctxt) "(.*)"$', line)
            if match:
                current = match.group(1)
                parts[current] = match.group(2)
            elif line.startswith('"') and current:
                parts[current] += line[1:-1]
        strs = [v for k, v in parts.items() if k.startswith("msgstr")]
        yield parts.get("msgid", ""), strs, flags


def test_the_catalogue_has_no_empty_or_fuzzy_entry():
    entries = [e for e in po_entries() if e[0]]
    assert len(entries) > 500
    empty = [msgid for msgid, strs, _flags in entries if not all(strs)]
    fuzzy = [msgid for msgid, _strs, flags in entries if "fuzzy" in flags]
    assert not empty, empty[:20]
    assert not fuzzy, fuzzy[:20]


def _needles() -> list[str]:
    """English source strings worth looking for: whole sentences or phrases of 2+ words, with
    placeholders cut out (the fixed text around them must not appear either)."""
    found = set()
    for msgid, _strs, _flags in po_entries():
        for piece in re.split(r"%\(\w+\)[sd]|\{\{.*?\}\}|%[sd]|\\n|<[^>]+>", msgid):
            piece = piece.strip(" .,:;·—()-\"'")
            if len(piece) >= 12 and " " in piece and piece not in ALLOWED:
                found.add(piece)
    return sorted(found, key=len, reverse=True)


def visible(html: str) -> str:
    html = re.sub(r"(?s)<(script|style|template|svg)\b.*?</\1>", " ", html)
    html = re.sub(r"(?s)<!--.*?-->", " ", html)
    text = re.sub(r"(?s)<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", text).replace("&amp;", "&").replace("&#x27;", "'")


@pytest.fixture
def zh_client(client):
    def login(user):
        client.force_login(user)
        client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
        return client

    return login


@pytest.mark.django_db
def test_the_main_pages_in_chinese_show_no_english_catalogue_string(
    zh_client, demo_users, launch, auditor, coordinator
):
    case = launch("2.2")
    item = open_item_of(case)
    staff = routed_user(item)
    client = zh_client(staff)
    claim(client, staff, item)
    submit(client, staff, item, "计划已上传")
    needles = _needles()
    pages = {
        coordinator: [
            reverse("workflows:index"),
            reverse("workflows:dashboard"),
            reverse("workflows:inbox"),
            reverse("workflows:case", args=[case.pk]),
            reverse("workflows:task", args=[open_item_of(case).pk]),
            reverse("workflows:reports"),
            reverse("workflows:audit"),
            reverse("workflows:supervision", args=[case.pk]),
            reverse("workflows:launch"),
            reverse("workflows:calendar"),
        ],
        auditor: [reverse("workflows:audit")],
    }
    leaks = {}
    for user, urls in pages.items():
        client = zh_client(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            text = visible(response.content.decode())
            assert re.search(r"[\u4e00-\u9fff]", text), url
            hits = [n for n in needles if n in text]
            if hits:
                leaks[url] = hits[:10]
    assert not leaks, leaks

    # The check can see English: the same case page in English shows many of these strings.
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    english = visible(client.get(reverse("workflows:audit")).content.decode())
    assert len([n for n in needles if n in english]) >= 3
