"""The hostile records added to the corpus of test_bad_input.py (issue 14): invisible and control
characters, take-over attempts, Unicode digits and over-long keys, plus the Rocket.Chat accounts a
take-over aims at. Deterministic: the same list on every run, site ids 241 and up, 9000-9013 and 9020-9029 for
carol and the take-overs (or odd ones on purpose: Unicode digits, control characters, over-long).
"""
from __future__ import annotations

from dataclasses import dataclass

from sync_tasks.person import AccountLink, SitePerson
from sync_tasks.state import ObservedAccount

BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9b", "\x9f",
            "\u2028", "\u2029"]
INVISIBLE = BIDI + ZERO_WIDTH + CONTROLS
UNICODE_DIGITS = ["²", "³", "¹", "٣", "١٢", "۴", "߂", "०", "৩", "๓", "𝟙", "①", "Ⅻ", "٣٣٣", "²³"]

# The accounts a take-over aims at: a human Rocket.Chat administrator rcsync did not create, and an
# account already linked to another site person (carol, in the corpus with her link).
ADMIN_USERNAME, ADMIN_EMAIL = "boss", "boss@example.org"
CAROL_USERNAME, CAROL_EMAIL, CAROL_SITE_ID = "carol", "carol@example.org", "9000"
# Accounts that act for software: a bot (type and role bot), an app user, a user-type account with role bot.
BOT_USERNAME, BOT_EMAIL = "helper-bot", "helper-bot@example.org"
APP_USERNAME, APP_EMAIL = "zapier.app", "zapier@example.org"
ROLEBOT_USERNAME, ROLEBOT_EMAIL = "ci-runner", "ci-runner@example.org"
# A second, custom privileged role (RCSYNC["IDENTITY"]["privileged_roles"] lists it in the tests).
AUDITOR_USERNAME, AUDITOR_EMAIL = "auditor", "auditor@example.org"
#: The victim kinds and their account ids in the in-memory world.
VICTIM_IDS = {"admin": "boss-id", "carol": "carol-id", "service": "svc", "bot": "bot-id", "app": "app-id",
              "rolebot": "rolebot-id", "auditor": "auditor-id"}


@dataclass(frozen=True)
class TakeOver:
    """A record aimed at someone else's account, and which account that is ("admin" or "carol")."""

    person: SitePerson
    victim: str


def takeover_records(service_email: str) -> list[TakeOver]:
    """Site people whose email or username is a privileged or someone else's account's."""
    def p(site_id: int, username: str, email: str | None, verified: bool = True) -> SitePerson:
        return SitePerson(str(site_id), username, email, verified, name=f"Mallory {site_id}")

    return [
        TakeOver(p(9001, "mallory1", ADMIN_EMAIL), "admin"),
        TakeOver(p(9002, "mallory2", ADMIN_EMAIL.upper()), "admin"),
        TakeOver(p(9003, "mallory3", f"  {ADMIN_EMAIL} "), "admin"),
        TakeOver(p(9004, "mallory4", ADMIN_EMAIL, verified=False), "admin"),
        TakeOver(p(9005, ADMIN_USERNAME, "mallory5@example.org"), "admin"),
        TakeOver(p(9006, ADMIN_USERNAME.upper(), "mallory6@example.org"), "admin"),
        TakeOver(p(9007, "b\u200boss", "mallory7@example.org"), "admin"),
        TakeOver(p(9008, "mallory8", f"bo\u200bss@example.org"), "admin"),
        TakeOver(p(9009, "mallory9", CAROL_EMAIL), "carol"),
        TakeOver(p(9010, "mallory10", CAROL_EMAIL.title()), "carol"),
        TakeOver(p(9011, CAROL_USERNAME, "mallory11@example.org"), "carol"),
        TakeOver(p(9012, "mallory12", service_email), "service"),
        TakeOver(p(9013, "rcsync", "mallory13@example.org"), "service"),
        TakeOver(p(9020, BOT_USERNAME, "mallory20@example.org"), "bot"),
        TakeOver(p(9021, "mallory21", BOT_EMAIL), "bot"),
        TakeOver(p(9022, "Helper-Bot", "mallory22@example.org"), "bot"),
        TakeOver(p(9023, "mallory23", APP_EMAIL), "app"),
        TakeOver(p(9024, APP_USERNAME, "mallory24@example.org"), "app"),
        TakeOver(p(9025, "mallory25", ROLEBOT_EMAIL), "rolebot"),
        TakeOver(p(9026, ROLEBOT_USERNAME, "mallory26@example.org"), "rolebot"),
        TakeOver(p(9027, "mallory27", AUDITOR_EMAIL), "auditor"),
        TakeOver(p(9028, AUDITOR_USERNAME, "mallory28@example.org"), "auditor"),
        TakeOver(p(9029, "mallory29", f"{ADMIN_EMAIL}\u200b"), "admin"),
    ]


def carol(carol_id: str) -> SitePerson:
    return SitePerson(CAROL_SITE_ID, CAROL_USERNAME, CAROL_EMAIL, True, name="Carol",
                      link=AccountLink(carol_id, CAROL_USERNAME, True))


def victim_accounts(room_keys: frozenset[str]) -> list[ObservedAccount]:
    """For the in-memory world: the human admin, carol's (linked) account, the bots and the auditor."""
    return [
        ObservedAccount("bot-id", BOT_USERNAME, "Helper", BOT_EMAIL, True, True, frozenset({"bot"}), frozenset(),
                        type="bot"),
        ObservedAccount("app-id", APP_USERNAME, "Zapier", APP_EMAIL, True, True, frozenset({"app"}), frozenset(),
                        type="app"),
        ObservedAccount("rolebot-id", ROLEBOT_USERNAME, "CI", ROLEBOT_EMAIL, True, True, frozenset({"bot", "user"}),
                        frozenset()),
        ObservedAccount("auditor-id", AUDITOR_USERNAME, "Audit", AUDITOR_EMAIL, True, True,
                        frozenset({"auditor", "user"}), frozenset()),
        ObservedAccount("boss-id", ADMIN_USERNAME, "The Boss", ADMIN_EMAIL, True, True, frozenset({"admin", "user"}),
                        frozenset(room_keys)),
        ObservedAccount("carol-id", CAROL_USERNAME, "Carol", CAROL_EMAIL, True, True, frozenset({"user"}),
                        frozenset({"general"} & room_keys)),
    ]


def extra_hostile(service_email: str = "svc@example.org", carol_id: str = "carol-id") -> list[SitePerson]:
    """>= 260 records on top of the 240 random ones."""
    people: list[SitePerson] = []
    n = 240

    def add(**kw: object) -> None:
        nonlocal n
        n += 1
        kw.setdefault("site_id", str(n))
        kw.setdefault("username", f"h{n}")
        kw.setdefault("email", f"h{n}@example.org")
        kw.setdefault("email_verified", n % 3 != 0)
        kw.setdefault("name", f"Hostile {n}")
        people.append(SitePerson(**kw))  # type: ignore[arg-type]

    for i, ch in enumerate(INVISIBLE):  # 30 characters x 6 places
        add(name=f"Ali{ch}ce {ch}Admin")
        add(name=ch * 3)  # nothing visible left: the username stands in
        add(username=f"ev{ch}il{i}")
        add(email=f"e{i}{ch}@example.org")  # refused: an error for this person
        add(email=f"x{i}@exam{ch}ple.org")
        add(name=f"{ch}", username=f"{ch}{ch}", email=f"{ch}y{i}@example.org", active=i % 4 != 0)
    for i, digits in enumerate(UNICODE_DIGITS):  # 15 x 3
        add(site_id=digits, username=f"digit-site-{i}")
        add(username=digits, email=f"ud{i}@example.org")
        add(email=f"d{digits}{i}@example.org", name=digits)
    for length in (33, 64, 65, 255, 1000):  # over-long keys and values
        add(site_id="9" * length)
        add(site_id="k" * length, username="k" * length)
        add(username="u" * length, email=f"{'l' * min(length, 240)}@example.org")
        add(name="N" * length * 10, email=f"long{length}@{'d' * 63}.{'e' * 63}.org")
    add(site_id="\x00", username="nul-site")
    add(site_id="12\u200b", username="zw-site")
    add(site_id=" 7", username="space-site")
    for t in takeover_records(service_email):
        people.append(t.person)
    people.append(carol(carol_id))
    return people
