"""The translations of rcsync's Django app (django_hooks/locale): re-extract, compile, check.

    python scripts/messages.py update   # `make messages`: makemessages (django + djangojs), then compilemessages
    python scripts/messages.py check    # `make messages-check`: fails on a source string without a translation
    python scripts/messages.py ensure   # `make gettext` (part of `make install`): GNU gettext is there, or says what is missing

`check` re-extracts the strings from a copy of django_hooks/ (the repository is left as it is) and
fails when a message has no translation or only a fuzzy one (msgmerge's guess for a new or changed
source string), when msgfmt -c finds a broken entry (a placeholder missing in the translation, wrong
plural count), or when a shipped .mo is missing or stale against its .po. tests/django_hooks/
test_translations.py runs it, so CI does too.

Django's makemessages runs inside django_hooks/ (so the catalog lands in django_hooks/locale and only
the app's own files are scanned) with `python -P`: the current directory must not go on sys.path, or
django_hooks/queue/ would shadow the standard library's `queue`. It needs GNU gettext (xgettext,
msgmerge, msguniq, msgattrib, msgfmt); without them this says what is missing, and installs Debian's
`gettext` package when it runs as root with apt-get (like scripts/ensure-chromium.sh does for chromium).
"""

from __future__ import annotations

import argparse
import gettext
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "django_hooks"
LANGUAGES = ("ru",)
DOMAINS = ("django", "djangojs")
TOOLS = ("xgettext", "msgmerge", "msguniq", "msgattrib", "msgfmt")


def say(text: str) -> None:
    print(f"[messages] {text}", file=sys.stderr)


def ensure_gettext() -> None:
    """GNU gettext on PATH, or exit 1 naming what is missing (installs Debian's package as root)."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        say("installing Debian's gettext package (for makemessages/compilemessages)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if not Path("/tmp/.rcsync-apt-updated").exists():
            subprocess.run(["apt-get", "update", "-qq"], env=env, stdout=subprocess.DEVNULL, check=False)
            Path("/tmp/.rcsync-apt-updated").touch()
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "gettext"], env=env,
                       stdout=subprocess.DEVNULL, check=False)
        missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        say(f"MISSING: {', '.join(missing)} (Debian: apt-get install gettext) — needed by make messages / messages-check")
        sys.exit(1)


def _django(app_dir: Path, *args: str) -> None:
    """`python -P -m django ARGS` inside `app_dir` (no settings: makemessages needs none)."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    proc = subprocess.run([sys.executable, "-P", "-m", "django", *args], cwd=app_dir, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        say(f"django-admin {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        sys.exit(1)


def extract(app_dir: Path) -> None:
    """Re-extract every message of `app_dir` into its locale/<lang>/LC_MESSAGES/<domain>.po (msgmerge keeps
    the translations; a new or changed string comes out untranslated or fuzzy)."""
    for domain in DOMAINS:
        for lang in LANGUAGES:
            _django(app_dir, "makemessages", "-l", lang, "-d", domain, "--no-obsolete", "--add-location", "file")


def po_path(app_dir: Path, lang: str, domain: str) -> Path:
    return app_dir / "locale" / lang / "LC_MESSAGES" / f"{domain}.po"


def unfinished(po: Path) -> list[str]:
    """The msgids of `po` that have no translation or a fuzzy one (the header excepted only when it is not fuzzy)."""
    found: list[str] = []
    for flag in ("--untranslated", "--only-fuzzy"):
        out = subprocess.run(["msgattrib", flag, "--no-wrap", "--no-obsolete", str(po)], capture_output=True,
                             text=True, check=True).stdout
        kind = "untranslated" if flag == "--untranslated" else "fuzzy"
        for line in out.splitlines():
            if line.startswith("msgid "):
                msgid = line[len("msgid "):]
                if msgid != '""' or kind == "fuzzy":
                    found.append(f"{kind}: {msgid}")
    return found


def compile_catalog(po: Path, mo: Path) -> None:
    subprocess.run(["msgfmt", "--check", "-o", str(mo), str(po)], check=True, capture_output=True, text=True)


def catalog(mo: Path) -> dict:
    with mo.open("rb") as fp:
        return dict(gettext.GNUTranslations(fp)._catalog)  # type: ignore[attr-defined]


def stale_mo(app_dir: Path) -> list[str]:
    """Each shipped .mo must hold exactly what its .po says (compared as catalogs, not bytes: msgfmt
    versions lay files out differently)."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for lang in LANGUAGES:
            for domain in DOMAINS:
                po = po_path(app_dir, lang, domain)
                mo = po.with_suffix(".mo")
                if not mo.exists():
                    problems.append(f"{mo.relative_to(app_dir.parent)} is missing (run make messages)")
                    continue
                fresh = Path(tmp) / f"{lang}-{domain}.mo"
                try:
                    compile_catalog(po, fresh)
                except subprocess.CalledProcessError as exc:
                    problems.append(f"msgfmt --check {po.relative_to(app_dir.parent)}: {exc.stderr.strip()}")
                    continue
                if catalog(fresh) != catalog(mo):
                    problems.append(f"{mo.relative_to(app_dir.parent)} is stale against its .po (run make messages)")
    return problems


def check(app_dir: Path) -> list[str]:
    """Everything that is wrong with the translations of `app_dir` (empty: all good). The tree is copied
    first, so the check never rewrites the repository's .po files."""
    problems = stale_mo(app_dir)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / app_dir.name
        shutil.copytree(app_dir, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo"))
        extract(copy)
        for lang in LANGUAGES:
            for domain in DOMAINS:
                po = po_path(copy, lang, domain)
                problems += [f"{lang}/{domain}.po {item}" for item in unfinished(po)]
    return problems


def update(app_dir: Path) -> None:
    extract(app_dir)
    _django(app_dir, "compilemessages", "-l", ",".join(LANGUAGES))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["update", "check", "ensure"])
    parser.add_argument("--app", type=Path, default=APP, help="the app directory (default django_hooks/)")
    args = parser.parse_args(argv)
    ensure_gettext()
    if args.action == "ensure":
        return 0
    if args.action == "update":
        update(args.app)
        say(f"updated and compiled {', '.join(LANGUAGES)} in {args.app / 'locale'}")
        return 0
    problems = check(args.app)
    for problem in problems:
        print(problem)
    if problems:
        say(f"{len(problems)} problem(s): translate them in django_hooks/locale/*/LC_MESSAGES/*.po, then make messages")
        return 1
    say("every message is translated and the .mo files are fresh")
    return 0


if __name__ == "__main__":
    sys.exit(main())
