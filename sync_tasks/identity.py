"""Rocket.Chat identities derived from site data: usernames, display names, emails. Pure functions.

Rocket.Chat validates usernames against ``UTF8_User_Names_Validation`` (default ``[0-9a-zA-Z-_.]+``)
and blocks ``admin, administrator, system, user`` plus ``all`` and ``here`` (reference §3.2;
``app/lib/server/functions/checkUsernameAvailability.ts`` and ``validateName.ts``). 7.x also rejects
display names containing ``< > \\ /`` (``"Name contains invalid characters"``, reference §9.3).

Invisible characters are an attack, not a typo: bidi overrides (U+202A-202E, U+2066-2069, U+200E/F)
make ``alice\u202egro.elpmaxe`` render as another person's name, zero-width characters (U+200B-200D,
U+2060, U+FEFF) make two different strings look identical, and NUL or other controls break logs and
terminals. Display names lose them (``clean_name``); an email holding one is refused outright
(``hidden_characters``), because an address is an identity and a cleaned one would be someone else's.
Usernames are reduced to ``[0-9a-zA-Z-_.]`` anyway, so these characters never reach one.

Transliteration uses ``unicodedata`` (accented Latin, Greek tonos, ...) plus explicit tables for
Cyrillic and Greek letters; scripts without a table (CJK, Arabic, ...) are dropped, and a username that
ends up empty falls back to ``<fallback_prefix><site id>``. (``Unidecode`` would cover more scripts but
is GPL-licensed, which the MIT-licensed rcsync cannot take as a dependency.)
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Iterable, Mapping

RESERVED_USERNAMES = frozenset({"admin", "administrator", "system", "user", "all", "here"})
RC_NAME_RE = re.compile(r"^[0-9a-zA-Z\-_.]+\Z")
NAME_FORBIDDEN = re.compile(r"[<>\\/]")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
EMAIL_RE = re.compile(r"^[^@\s<>\"(),;:\\\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\Z")
MAX_NAME_LENGTH = 120
# Unicode categories removed from display names: format characters (bidi controls, zero-width
# space/joiners, word joiner, BOM, soft hyphen, tag characters) and lone surrogates...
_DROPPED_CATEGORIES = frozenset({"Cf", "Cs"})
# ... and those turned into a space: controls (C0 incl. NUL, DEL, C1) and line/paragraph separators.
_SPACE_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
MAX_EMAIL_LENGTH = 254

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "yu", "я": "ya",
    # Ukrainian, Belarusian, Serbian, Macedonian
    "є": "ye", "і": "i", "ї": "yi", "ґ": "g", "ў": "u", "ђ": "dj", "ј": "j", "љ": "lj", "њ": "nj", "ћ": "c",
    "џ": "dz", "ѓ": "gj", "ќ": "kj", "ѕ": "dz",
}
_GREEK = {
    "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th", "ι": "i", "κ": "k",
    "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p", "ρ": "r", "σ": "s", "ς": "s", "τ": "t",
    "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps", "ω": "o",
}
_LATIN_EXTRA = {"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "đ": "d", "ł": "l", "þ": "th", "ð": "d", "ı": "i"}
_TABLE = {**_CYRILLIC, **_GREEK, **_LATIN_EXTRA}
_SEPARATORS = set(" \t\n@+,;:/\\|")


def is_valid_rc_name(value: str) -> bool:
    """True if ``value`` passes Rocket.Chat's default username/room-name pattern."""
    return bool(value) and RC_NAME_RE.match(value) is not None


def transliterate(text: str) -> str:
    """Lower-case ASCII rendering of ``text``: table letters, then NFKD with combining marks dropped."""
    if text.isascii():
        return text.lower()
    out: list[str] = []
    for ch in text.lower():
        if ch in _TABLE:
            out.append(_TABLE[ch])
            continue
        if ch.isascii():
            out.append(ch)
            continue
        decomposed = unicodedata.normalize("NFKD", ch)
        base = decomposed[0] if decomposed else ""
        if base in _TABLE:
            out.append(_TABLE[base])
        else:
            out.append("".join(c for c in decomposed if c.isascii()))
    return "".join(out)


_PLAIN = re.compile(r"^[0-9a-z]+(?:[._-][0-9a-z]+)*\Z")


def _slug(text: str) -> str:
    if _PLAIN.match(text):  # the common case: already a clean, lower-case name (keep the object)
        return text
    low = text.lower()
    if _PLAIN.match(low):
        return low
    chars: list[str] = []
    for ch in transliterate(text):
        if ch in _SEPARATORS:
            chars.append(".")
        elif RC_NAME_RE.match(ch):
            chars.append(ch)
    slug = re.sub(r"([._-])[._-]+", r"\1", "".join(chars))
    return slug.strip("._-")


def _fit(base: str, suffix: str, max_length: int) -> str:
    return (base[: max(1, max_length - len(suffix))].rstrip("._-") or base[:1]) + suffix


def fallback_username(site_id: str, prefix: str, max_length: int) -> str:
    """Username for a person whose site username yields nothing usable (empty, only CJK, ...)."""
    tail = _slug(site_id) or hashlib.sha256(site_id.encode()).hexdigest()[:10]
    return _fit(prefix + tail, "", max_length)


def derive_username(raw: str | None, site_id: str, *, max_length: int = 32, fallback_prefix: str = "member-",
                    reserved: Iterable[str] = RESERVED_USERNAMES) -> str:
    """The preferred Rocket.Chat username for a site username, before collision resolution.

    Always returns a valid name; reserved names get a ``-site`` suffix so they never reach the server
    (where they would fail with ``error-blocked-username``).
    """
    slug = _slug(raw or "")[:max_length].rstrip("._-")
    if not slug:
        slug = fallback_username(site_id, fallback_prefix, max_length)
    reserved = reserved if isinstance(reserved, (set, frozenset)) else frozenset(reserved)
    if slug.lower() in reserved:  # reserved names are lower-case (config lower-cases extra ones)
        slug = _fit(slug, "-site", max_length)
    return slug


def assign_usernames(wanted: Mapping[str, str], taken: Iterable[str], *, max_length: int = 32,
                     order: Iterable[str] | None = None) -> dict[str, str]:
    """Resolve collisions deterministically: in ``order`` (site order), the first person keeps the
    derived name, later ones get ``name-2``, ``name-3`` ... skipping every name in ``taken``.

    Comparison is case-insensitive because Rocket.Chat's uniqueness check is.
    """
    used = {t.lower() for t in taken}
    result: dict[str, str] = {}
    for site_id in (order if order is not None else sorted(wanted)):
        base = wanted[site_id]
        candidate, n = base, 1
        while candidate.lower() in used:
            n += 1
            candidate = _fit(base, f"-{n}", max_length)
        used.add(candidate.lower())
        result[site_id] = candidate
    return result


def hidden_characters(text: str | None) -> list[str]:
    """The control, format (bidi, zero-width) and separator characters in ``text``, as ``U+XXXX``."""
    if not text:
        return []
    if text.isascii():
        return [f"U+{ord(c):04X}" for c in CONTROL.findall(text)]
    return [f"U+{ord(c):04X}" for c in text
            if unicodedata.category(c) in _DROPPED_CATEGORIES or unicodedata.category(c) in _SPACE_CATEGORIES]


def strip_invisible(text: str) -> str:
    """``text`` without format characters and with controls/line separators turned into spaces."""
    if text.isascii():
        return CONTROL.sub(" ", text) if CONTROL.search(text) else text
    out: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in _DROPPED_CATEGORIES:
            continue
        out.append(" " if cat in _SPACE_CATEGORIES else ch)
    return "".join(out)


def clean_name(name: str | None, fallback: str) -> str:
    """A display name Rocket.Chat 7.x accepts and people can trust: no ``< > \\ /``, no control,
    bidi or zero-width characters, bounded length."""
    cleaned = NAME_FORBIDDEN.sub("", strip_invisible(name or ""))
    cleaned = " ".join(cleaned.split())[:MAX_NAME_LENGTH].strip()
    if cleaned and cleaned == name:
        return name  # unchanged: share the site's string instead of a copy
    return cleaned or fallback


def normalize_email(email: str | None) -> str | None:
    """The email stripped of surrounding space if it is plausibly deliverable, else ``None``.

    An address with a control or format character (NUL, a bidi override, a zero-width space) is never
    plausible: it would look like another address. The policy reports it as a per-person error.
    """
    if not email or not isinstance(email, str):
        return None
    email = email.strip()
    if len(email) > MAX_EMAIL_LENGTH or not EMAIL_RE.match(email) or hidden_characters(email):
        return None
    return email


def email_key(email: str | None) -> str | None:
    """Case-insensitive comparison key for emails (Rocket.Chat stores and matches them lower-cased)."""
    if not email:
        return None
    email = email.strip()
    return email if email.islower() or not any(c.isupper() for c in email) else email.lower()
