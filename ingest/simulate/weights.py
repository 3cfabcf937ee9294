"""The simulator's mixes. SIMULATED figures, chosen to look plausible, not official statistics.

Province weights are rough population sizes (millions, rounded) of the 34 provinces in force
since 2025-07-01; every other mix is an invented share that only has to be plausible.
"""

from __future__ import annotations

from types import MappingProxyType

# province code (2025) -> relative weight (≈ population in millions, simulated).
PROVINCE_WEIGHTS = MappingProxyType({
    "01": 8.7, "04": 0.6, "08": 1.9, "11": 0.6, "12": 0.5, "14": 1.3, "15": 1.8, "19": 1.8,
    "20": 0.8, "22": 1.4, "24": 3.6, "25": 4.0, "31": 4.7, "33": 3.6, "37": 4.4, "38": 4.3,
    "40": 3.8, "42": 1.6, "44": 1.9, "46": 1.2, "48": 3.1, "51": 2.2, "52": 3.6, "56": 2.2,
    "66": 3.3, "68": 3.9, "75": 4.5, "79": 14.0, "80": 3.3, "82": 4.4, "86": 4.3, "91": 4.9,
    "92": 4.2, "96": 2.6,
})

CRIME_GROUPS = MappingProxyType({
    "property": 38.0, "drugs": 18.0, "life_health_dignity": 15.0, "public_safety_order": 12.0,
    "economic": 6.0, "administrative_order": 3.0, "position_corruption": 2.0,
    "environment": 2.0, "marriage_family": 1.0, "freedoms": 1.0, "judicial": 1.0,
    "national_security": 0.5, "military": 0.25, "war_crimes": 0.05,
})
SEVERITIES = MappingProxyType({
    "less_serious": 45.0, "serious": 35.0, "very_serious": 15.0, "especially_serious": 5.0,
})
SOURCE_TYPES = MappingProxyType({
    "denunciation": 45.0, "report": 30.0, "direct_detection": 15.0,
    "prosecution_recommendation": 4.0, "confession": 3.0, "surrender": 3.0,
})
CHANNELS = MappingProxyType({
    "in_person": 50.0, "phone": 25.0, "vneid": 12.0, "post": 8.0, "media": 5.0,
})
TRIAGE = MappingProxyType({"accepted": 86.0, "transferred": 6.0, "not_crime": 8.0})
HANDLED_BY = MappingProxyType({
    "commune_police": 55.0, "commune_investigator": 30.0, "provincial_agency": 15.0,
})
DECISIONS = MappingProxyType({"institute": 55.0, "decline": 35.0, "suspend": 10.0})
SUSPENSION_REASONS = MappingProxyType({
    "awaiting_expert_assessment": 40.0, "awaiting_asset_valuation": 30.0,
    "awaiting_judicial_assistance": 10.0, "awaiting_documents": 20.0,
})
RESUME_REASONS = MappingProxyType({"resumed": 80.0, "suspension_annulled": 20.0})
ADMIN_FIELDS = MappingProxyType({
    "road_traffic": 45.0, "public_order": 15.0, "residence_identity": 10.0, "fire_safety": 6.0,
    "gambling_social_evils": 6.0, "drugs": 4.0, "economic_smuggling": 4.0, "environment": 3.0,
    "weapons_explosives": 2.0, "waterway_traffic": 2.0, "cybersecurity": 2.0, "other": 1.0,
})

# Flow shares (simulated).
SHARE_ADMIN_EVENTS = 0.15  # of all events: administrative sanctions (no report attached)
SHARE_FORWARDED = 0.5  # accepted reports that are forwarded / pre-verified
SHARE_COMPLEX = 0.15  # accepted reports extended as complex cases
SHARE_PROCURACY = 0.3  # complex cases extended again by the procuracy
SHARE_ON_TIME = 0.85  # resolutions before the due date
SHARE_RESUMED = 0.25  # suspended reports later resumed
SHARE_CLEARED = 0.8  # instituted cases later cleared
SHARE_APPREHENDED = 0.7  # cleared cases with suspects apprehended
SHARE_CORRECTED = 0.03  # events later corrected
SHARE_RECENT = 0.25  # incidents received in the last two days (live part of the stream)
HORIZON_DAYS = 60  # how far back the oldest incidents start
