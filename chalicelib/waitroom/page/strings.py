"""The page's words in English and Swahili. The server picks from ``Accept-Language`` (or
``?lang=``); the script may switch to ``navigator.language``, so both go into the page."""

from __future__ import annotations

LANGUAGES = ("en", "sw")

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "title": "You are in line",
        "joining": "Getting your place in line…",
        "position": "Your place in line",
        "ahead_one": "1 person ahead of you",
        "ahead_many": "{n} people ahead of you",
        "ahead_none": "You are next",
        "eta": "Estimated wait: {low} to {high}",
        "eta_soon": "Any moment now",
        "eta_unknown": "Estimating your wait…",
        "keep_open": (
            "Keep this page open. If you close it, come back within {minutes} minutes to keep your place."
        ),
        "paused": "The line is paused by the organiser. You keep your place; we will move again soon.",
        "paused_join": "The line is paused by the organiser. This page will let you in when it opens again.",
        "draft": "This line has not opened yet. This page will let you in when it opens.",
        "closed": "This sale is closed. Thank you for waiting.",
        "admitted": "It's your turn! Taking you to checkout…",
        "continue": "Continue to checkout",
        "done": "Your checkout is complete.",
        "expired": "Your checkout time ran out.",
        "abandoned": "You left the line for too long and lost your place.",
        "revoked": "Your place was cancelled by the organiser.",
        "rejoin": "Join the line again",
        "busy": "Many people are joining right now. Trying again in {s} seconds…",
        "offline": "Connection lost. Retrying in {s} seconds… You keep your place.",
        "not_found": "There is no such sale.",
        "refresh": "Refresh",
        "minutes": "{n} min",
        "seconds": "{n} s",
        "updated": "Updated {time}",
        "language": "Kiswahili",
    },
    "sw": {
        "title": "Uko kwenye foleni",
        "joining": "Tunakupatia nafasi kwenye foleni…",
        "position": "Nafasi yako kwenye foleni",
        "ahead_one": "Mtu 1 yuko mbele yako",
        "ahead_many": "Watu {n} wako mbele yako",
        "ahead_none": "Wewe ndiye unayefuata",
        "eta": "Muda wa kusubiri: {low} hadi {high}",
        "eta_soon": "Wakati wowote sasa",
        "eta_unknown": "Tunakadiria muda wako wa kusubiri…",
        "keep_open": (
            "Usifunge ukurasa huu. Ukiufunga, rudi ndani ya dakika {minutes} ili usipoteze nafasi yako."
        ),
        "paused": (
            "Mwandaaji amesimamisha foleni kwa muda. Nafasi yako iko salama; tutaendelea hivi karibuni."
        ),
        "paused_join": "Mwandaaji amesimamisha foleni kwa muda. Ukurasa huu utakuingiza ikifunguliwa tena.",
        "draft": "Foleni hii bado haijafunguliwa. Ukurasa huu utakuingiza ikifunguliwa.",
        "closed": "Mauzo haya yamefungwa. Asante kwa kusubiri.",
        "admitted": "Zamu yako imefika! Tunakupeleka kulipia…",
        "continue": "Endelea kulipia",
        "done": "Ununuzi wako umekamilika.",
        "expired": "Muda wako wa kulipia umekwisha.",
        "abandoned": "Uliondoka kwenye foleni kwa muda mrefu na ukapoteza nafasi yako.",
        "revoked": "Nafasi yako imefutwa na mwandaaji.",
        "rejoin": "Jiunge na foleni tena",
        "busy": "Watu wengi wanajiunga sasa hivi. Tunajaribu tena baada ya sekunde {s}…",
        "offline": "Mtandao umekatika. Tunajaribu tena baada ya sekunde {s}… Nafasi yako iko salama.",
        "not_found": "Hakuna mauzo kama haya.",
        "refresh": "Onyesha upya",
        "minutes": "dakika {n}",
        "seconds": "sekunde {n}",
        "updated": "Imesasishwa {time}",
        "language": "English",
    },
}


def choose(accept_language: str | None, override: str | None = None) -> str:
    """``sw`` or ``en`` from ``?lang=`` or the browser's ``Accept-Language`` (by q-value)."""
    if override in LANGUAGES:
        return override  # type: ignore[return-value]
    best, best_q = "en", -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best


def duration(seconds: int, lang: str) -> str:
    """A human duration in whole minutes (seconds under a minute)."""
    words = STRINGS[lang]
    if seconds < 60:
        return words["seconds"].format(n=max(1, seconds))
    return words["minutes"].format(n=round(seconds / 60))
