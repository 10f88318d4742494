"""Is every word a page shows either a translation from a catalog or data? (the Russian browser tests)

`Catalog` holds the msgstr values of rcsync's Russian catalogs (django + djangojs) and of Django's admin
(its chrome sits inside the same containers: actions, filters, pagination). A text node is covered when it
is one of them (placeholders matching text that is itself covered), data the test made or rcsync keeps
(names, rooms, roles, operation codes, numbers, dates in the locale's format), or pieces of those joined
by the separators the templates use. Everything else — an English string someone forgot to wrap, a
string wrapped but not translated — is reported.
"""

from __future__ import annotations

import gettext
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import django

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = [
    ROOT / "django_hooks" / "locale" / "ru" / "LC_MESSAGES" / "django.mo",
    ROOT / "django_hooks" / "locale" / "ru" / "LC_MESSAGES" / "djangojs.mo",
    Path(django.__file__).parent / "contrib" / "admin" / "locale" / "ru" / "LC_MESSAGES" / "django.mo",
    Path(django.__file__).parent / "contrib" / "admin" / "locale" / "ru" / "LC_MESSAGES" / "djangojs.mo",
    # The site's user model is auth's AbstractUser: its names ("пользователи") head the Accounts list.
    Path(django.__file__).parent / "contrib" / "auth" / "locale" / "ru" / "LC_MESSAGES" / "django.mo",
]
PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[sdfr]")
SEPARATORS = (" · ", ", ", " — ", " ", ": ")
# Numbers, ids, percentages, progress ("42% · 3/10"), punctuation and arrows on their own.
NUMBERISH = re.compile(r"[#№]?\d+(?:[.,]\d+)?\s*%?|\d+/\d+|[\W_]+")

COUNTED = re.compile(r"\d+ (\D.*)")

#: The JavaScript that collects what a person sees in rcsync's containers: visible text nodes (not
#: inside <script>, <style>, <select>), and the labels of submit buttons.
VISIBLE_TEXT_JS = """
(selectors) => {
  const out = [];
  for (const root of document.querySelectorAll(selectors)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent.replace(/\\s+/g, " ").trim();
      const el = node.parentElement;
      if (!text || !el || el.closest("script, style, select, noscript, [hidden]")) continue;
      if (!el.getClientRects().length || getComputedStyle(el).visibility === "hidden") continue;
      out.push(text);
    }
    for (const input of root.querySelectorAll("input[type=submit], button")) {
      const label = (input.value || input.textContent || "").replace(/\\s+/g, " ").trim();
      if (label && input.getClientRects().length) out.push(label);
    }
  }
  return out;
}
"""
CONTAINERS = ".breadcrumbs, #content, .messagelist"


def _pattern(msgstr: str) -> re.Pattern[str] | None:
    literal = PLACEHOLDER.sub("", msgstr)
    if not re.search(r"[^\W\d_]", literal):
        return None  # "%s" or "%(count)s:" alone would cover anything
    parts = PLACEHOLDER.split(msgstr)
    body = "(.+?)".join(re.escape(re.sub(r"\s+", " ", p)) for p in parts)
    return re.compile(body.replace("%%", "%"), re.S)


@lru_cache(maxsize=1)
def catalog_patterns() -> tuple[set[str], list[re.Pattern[str]]]:
    """(the literal msgstrs, patterns for those with placeholders), from the compiled catalogs."""
    literals: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for mo in CATALOGS:
        with mo.open("rb") as fp:
            entries = gettext.GNUTranslations(fp)._catalog  # type: ignore[attr-defined]
        for key, msgstr in entries.items():
            if key == "" or not msgstr:
                continue
            # Templates show the text with tags stripped and whitespace collapsed.
            text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", msgstr)).strip()
            if PLACEHOLDER.search(text):
                pattern = _pattern(text)
                if pattern is not None:
                    patterns.append(pattern)
            elif text:
                literals.add(text)
                literals.add(text.rstrip(".:;…"))
                literals.add(text[:1].upper() + text[1:])  # capfirst (admin column headers)
                literals.add(text.lower())  # |lower (a run's kind in a person's history)
                # {% blocktranslate %} around <strong>: each text node is a piece of the sentence.
                for piece in re.split(r"<[^>]+>", msgstr):
                    piece = re.sub(r"\s+", " ", piece).strip()
                    if piece:
                        literals.add(piece)
    return literals, patterns


class Catalog:
    """The checker for one test: the catalogs plus the data that test's pages show."""

    def __init__(self, data: Iterable[str], date_words: Iterable[str] = ()) -> None:
        self.literals, self.patterns = catalog_patterns()
        self.data = {d.strip() for d in data if d and d.strip()}
        words = "|".join(sorted({re.escape(w) for w in date_words if w}, key=len, reverse=True)) or "(?!)"
        # Django's ru DATETIME_FORMAT / DATE_FORMAT: "2 декабря 2026 г. 1:30", "2 декабря 2026 г."
        self.date = re.compile(rf"\d{{1,2}} (?:{words}) \d{{4}} г\.(?: \d{{1,2}}:\d{{2}})?")
        self.time = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?")

    def is_data(self, text: str) -> bool:
        return (text in self.data or bool(NUMBERISH.fullmatch(text)) or bool(self.date.fullmatch(text))
                or bool(self.time.fullmatch(text)))

    def covered(self, text: str, depth: int = 0) -> bool:
        text = re.sub(r"\s+", " ", text).strip()
        if not text or text in self.literals or self.is_data(text):
            return True
        if depth > 4:
            return False
        for pattern in self.patterns:
            match = pattern.fullmatch(text)
            if match and all(self.covered(group, depth + 1) for group in match.groups()):
                return True
        counted = COUNTED.fullmatch(text)  # Django admin's "2 запуски синхронизации" (count + verbose name)
        if counted and self.covered(counted.group(1), depth + 1):
            return True
        for sep in SEPARATORS:
            parts = text.split(sep)
            if len(parts) > 1 and all(self.covered(part, depth + 1) for part in parts):
                return True
        # Wrapping punctuation: "(3)", "#12:", "«…»".
        stripped = text.strip("()[]«»‹›\"'.,:;·—–-#… ")
        if stripped != text:
            return self.covered(stripped, depth + 1)
        return False

    def uncovered(self, texts: Iterable[str]) -> list[str]:
        return sorted({t for t in texts if not self.covered(t)})
