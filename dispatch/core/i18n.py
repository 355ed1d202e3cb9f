"""Text picked for the active language."""

from django.utils.translation import get_language


def localized(value, language: str | None = None) -> str:
    """Pick the text for the active language from ``{"en": ..., "zh": ...}`` (or return a plain string)."""
    if not isinstance(value, dict):
        return str(value or "")
    lang = (language or get_language() or "en").lower()
    key = "zh" if lang.startswith("zh") else "en"
    return value.get(key) or value.get("en") or next(iter(value.values()), "")
