"""Free-text country spellings -> ISO 3166-1 alpha-2, built from pycountry's ISO data.

The key of a spelling keeps its ASCII letters only, upper-cased, so 'U.S.A.', 'usa ' and 'USA'
meet; the SQL side (`migration.country_key`) computes the same key.
"""

from __future__ import annotations

import pycountry

# Spellings people write that are not ISO names.
COLLOQUIAL = {
    "USA": "US",
    "AMERICA": "US",
    "UNITEDSTATESOFAMERICA": "US",
    "UK": "GB",
    "GREATBRITAIN": "GB",
    "BRITAIN": "GB",
    "ENGLAND": "GB",
    "SCOTLAND": "GB",
    "WALES": "GB",
    "NORTHERNIRELAND": "GB",
    "DEUTSCHLAND": "DE",
    "HOLLAND": "NL",
    "THENETHERLANDS": "NL",
    "ESPANA": "ES",
    "KOREA": "KR",
    "SOUTHKOREA": "KR",
    "RUSSIA": "RU",
    "IRAN": "IR",
    "VIETNAM": "VN",
    "TAIWAN": "TW",
    "UAE": "AE",
    "CZECHREPUBLIC": "CZ",
    "TURKEY": "TR",
    "BOLIVIA": "BO",
    "VENEZUELA": "VE",
    "SYRIA": "SY",
    "LAOS": "LA",
    "MOLDOVA": "MD",
    "TANZANIA": "TZ",
    "PRC": "CN",
}


def country_key(value: str) -> str:
    return "".join(ch for ch in value if ch.isascii() and ch.isalpha()).upper()


def aliases() -> dict[str, str]:
    """Every known spelling key -> alpha-2; the first claim of a key wins (codes before names)."""
    table: dict[str, str] = {}
    countries = list(pycountry.countries)
    for attribute in ("alpha_2", "alpha_3", "name", "common_name", "official_name"):
        for country in countries:
            value = getattr(country, attribute, None)
            if value:
                table.setdefault(country_key(value), country.alpha_2)
    for key, iso2 in COLLOQUIAL.items():
        table.setdefault(key, iso2)
    table.pop("", None)
    return table
