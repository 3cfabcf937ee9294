"""Dimension rows (pure builders) and their idempotent loader.

Rows come from the reference data in ``schemas`` (2025 units, legacy mapping, crime groups,
social-order grouping) and from the settings (statistical month start day). The loader writes a
dimension again only when its content checksum changed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from antt.settings import Settings

log = logging.getLogger(__name__)

Rows = list[list[Any]]

# Penal Code 2015 chapters for each crime group, with the Vietnamese chapter name.
CRIME_GROUP_CHAPTERS: dict[str, tuple[str, str]] = {
    "national_security": ("XIII", "Các tội xâm phạm an ninh quốc gia"),
    "life_health_dignity": ("XIV", "Các tội xâm phạm tính mạng, sức khỏe, nhân phẩm, danh dự"),
    "freedoms": ("XV", "Các tội xâm phạm quyền tự do của con người, quyền tự do, dân chủ"),
    "property": ("XVI", "Các tội xâm phạm sở hữu"),
    "marriage_family": ("XVII", "Các tội xâm phạm chế độ hôn nhân và gia đình"),
    "economic": ("XVIII", "Các tội phạm về trật tự quản lý kinh tế"),
    "environment": ("XIX", "Các tội phạm về môi trường"),
    "drugs": ("XX", "Các tội phạm về ma túy"),
    "public_safety_order": ("XXI", "Các tội xâm phạm an toàn công cộng, trật tự công cộng"),
    "administrative_order": ("XXII", "Các tội xâm phạm trật tự quản lý hành chính"),
    "position_corruption": ("XXIII", "Các tội phạm về chức vụ"),
    "judicial": ("XXIV", "Các tội xâm phạm hoạt động tư pháp"),
    "military": ("XXV", "Các tội xâm phạm nghĩa vụ, trách nhiệm của quân nhân"),
    "war_crimes": ("XXVI", "Các tội phá hoại hòa bình, chống loài người và tội phạm chiến tranh"),
}

CALENDAR_YEARS = (2015, 2040)


def province_rows() -> Rows:
    from schemas import units

    return [[code, units.province_name(code), "2025"] for code in units.PROVINCES]


def commune_rows() -> Rows:
    from schemas import units

    return [
        [code, province, units.commune_name(code), "2025"]
        for code, province in sorted(units.COMMUNE_PROVINCE.items())
    ]


def legacy_rows() -> Rows:
    from schemas import legacy

    t = legacy.tables()
    rows: Rows = []
    for commune, candidates in sorted(t.commune_to_2025.items()):
        for province_2025, commune_2025 in candidates:
            rows.append([
                t.commune_province.get(commune, ""), commune, t.commune_names.get(commune, ""),
                province_2025, commune_2025, len(candidates), int(len(candidates) == 1),
            ])
    return rows


def crime_group_rows(social_order: Sequence[str]) -> Rows:
    """Crime groups with their chapter; ``social_order`` is the configured grouping."""
    social = set(social_order)
    return [
        [group, chapter, name, int(group in social)]
        for group, (chapter, name) in CRIME_GROUP_CHAPTERS.items()
    ]


def calendar_rows(start_day: int, years: tuple[int, int] = CALENDAR_YEARS) -> Rows:
    """(date, period_type, start, end, label) for every day of ``years`` (inclusive)."""
    from schemas import rules

    stat = rules.StatCalendar(start_day=start_day)
    rows: Rows = []
    day, last = date(years[0], 1, 1), date(years[1], 12, 31)
    while day <= last:
        for period in (rules.month_period(day), rules.quarter_period(day),
                       rules.year_period(day), stat.period_of(day)):
            rows.append([day, period.kind, period.start, period.end, period.label])
        day += timedelta(days=1)
    return rows


DIMENSIONS: dict[str, tuple[Sequence[str], Callable[[Settings], Rows]]] = {
    "dim_provinces": (("province_code", "name", "code_regime"), lambda s: province_rows()),
    "dim_communes": (
        ("commune_code", "province_code", "name", "code_regime"), lambda s: commune_rows()),
    "dim_legacy_units": (
        ("legacy_province_code", "legacy_commune_code", "legacy_name", "province_code",
         "commune_code", "candidates", "unambiguous"), lambda s: legacy_rows()),
    "dim_crime_groups": (
        ("crime_group", "chapter", "name_vi", "social_order"),
        lambda s: crime_group_rows(s.social_order_crime_groups)),
    "dim_reporting_calendar": (
        ("date", "period_type", "period_start", "period_end", "period_label"),
        lambda s: calendar_rows(s.statistical_month_start_day)),
}


def checksum(rows: Rows) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(repr(row).encode())
    return digest.hexdigest()[:16]


def load_dimensions(client: Client, settings: Settings, now: datetime | None = None) -> list[str]:
    """Reload every dimension whose content changed; returns the names reloaded."""
    db = settings.clickhouse_database
    stored: dict[str, str] = dict(client.query(  # type: ignore[arg-type]
        f"SELECT dimension, argMax(checksum, loaded_at) FROM {db}.dim_loads GROUP BY dimension"
    ).result_rows)
    from sinks.migrate import ddl_transform  # on a cluster, TRUNCATE must reach the shards

    transform = ddl_transform(settings)
    reloaded = []
    for name, (columns, build) in DIMENSIONS.items():
        rows = build(settings)
        digest = checksum(rows)
        if stored.get(name) == digest:
            continue
        for statement in transform(f"TRUNCATE TABLE IF EXISTS {db}.{name}"):
            client.command(statement)
        client.insert(f"{db}.{name}", rows, column_names=list(columns))
        client.insert(f"{db}.dim_loads", [[name, digest, len(rows), now or datetime.now(UTC)]],
                      column_names=["dimension", "checksum", "rows", "loaded_at"])
        log.info("loaded %s: %d rows", name, len(rows))
        reloaded.append(name)
    return reloaded
