"""Every published formula has one home (``analytics.services.definitions``): the API answers it and the README's
"Analytics" section prints the same English text."""

from pathlib import Path

from django.utils import translation

from analytics.services.definitions import INTERVAL_NAMES, KPI_NAMES, all_formulas

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_publishes_every_formula_as_the_api_answers_it():
    text = README.read_text("utf-8")
    section = text[text.index("## Analytics") :]
    section = section[: section.index("\n## ", 1)]
    flat = " ".join(section.split())
    with translation.override("en"):
        formulas = all_formulas()
    assert set(INTERVAL_NAMES) | set(KPI_NAMES) <= set(formulas)
    missing = {name: formula for name, formula in formulas.items() if f"`{name}`: {formula}" not in flat}
    assert not missing, missing
