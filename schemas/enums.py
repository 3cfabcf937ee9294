"""Closed vocabularies of the event contract.

Every value is a lowercase ASCII code; ``docs/events.md`` gives the Vietnamese term for each.
The members are :class:`enum.StrEnum`, so ``event.decision == "institute"`` holds and JSON
output is the plain string.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    REPORT_RECEIVED = "report_received"  # tiếp nhận nguồn tin về tội phạm
    REPORT_TRIAGED = "report_triaged"  # phân loại
    REPORT_FORWARDED = "report_forwarded"  # chuyển ngay / xác minh sơ bộ
    DEADLINE_EXTENDED = "deadline_extended"  # gia hạn
    REPORT_RESOLVED = "report_resolved"  # giải quyết
    REPORT_RESUMED = "report_resumed"  # phục hồi
    OFFENCE_CLEARED = "offence_cleared"  # điều tra, khám phá
    SUSPECTS_APPREHENDED = "suspects_apprehended"  # bắt giữ, xử lý đối tượng
    ADMIN_VIOLATION_SANCTIONED = "admin_violation_sanctioned"  # xử phạt vi phạm hành chính


class CodeRegime(StrEnum):
    R2025 = "2025"  # units in force since 2025-07-01 (Decision 19/2025/QĐ-TTg)
    R2004 = "2004"  # legacy units (Decision 124/2004/QĐ-TTg and amendments)


class SourceType(StrEnum):
    DENUNCIATION = "denunciation"  # tố giác
    REPORT = "report"  # tin báo
    PROSECUTION_RECOMMENDATION = "prosecution_recommendation"  # kiến nghị khởi tố
    CONFESSION = "confession"  # tự thú
    SURRENDER = "surrender"  # đầu thú
    DIRECT_DETECTION = "direct_detection"  # trực tiếp phát hiện


class Channel(StrEnum):
    IN_PERSON = "in_person"  # trực tiếp
    PHONE = "phone"  # điện thoại
    POST = "post"  # bưu chính
    VNEID = "vneid"  # trực tuyến qua VNeID
    MEDIA = "media"  # phương tiện thông tin đại chúng


class Severity(StrEnum):
    LESS_SERIOUS = "less_serious"  # ít nghiêm trọng
    SERIOUS = "serious"  # nghiêm trọng
    VERY_SERIOUS = "very_serious"  # rất nghiêm trọng
    ESPECIALLY_SERIOUS = "especially_serious"  # đặc biệt nghiêm trọng


class CrimeGroup(StrEnum):
    """Penal Code 2015, chapters XIII-XXVI (one value per chapter)."""

    NATIONAL_SECURITY = "national_security"  # XIII xâm phạm an ninh quốc gia
    LIFE_HEALTH_DIGNITY = "life_health_dignity"  # XIV tính mạng, sức khỏe, nhân phẩm, danh dự
    FREEDOMS = "freedoms"  # XV quyền tự do của con người, quyền tự do, dân chủ của công dân
    PROPERTY = "property"  # XVI sở hữu
    MARRIAGE_FAMILY = "marriage_family"  # XVII chế độ hôn nhân và gia đình
    ECONOMIC = "economic"  # XVIII trật tự quản lý kinh tế
    ENVIRONMENT = "environment"  # XIX môi trường
    DRUGS = "drugs"  # XX ma túy
    PUBLIC_SAFETY_ORDER = "public_safety_order"  # XXI an toàn công cộng, trật tự công cộng
    ADMINISTRATIVE_ORDER = "administrative_order"  # XXII trật tự quản lý hành chính
    POSITION_CORRUPTION = "position_corruption"  # XXIII chức vụ (tham nhũng)
    JUDICIAL = "judicial"  # XXIV hoạt động tư pháp
    MILITARY = "military"  # XXV nghĩa vụ, trách nhiệm của quân nhân
    WAR_CRIMES = "war_crimes"  # XXVI phá hoại hòa bình, chống loài người, tội phạm chiến tranh


class TriageOutcome(StrEnum):
    ACCEPTED = "accepted"  # thụ lý
    TRANSFERRED = "transferred"  # chuyển cơ quan có thẩm quyền
    NOT_CRIME = "not_crime"  # không thuộc sự việc hình sự (hành chính / dân sự)


class HandledBy(StrEnum):
    COMMUNE_POLICE = "commune_police"  # Công an cấp xã
    COMMUNE_INVESTIGATOR = "commune_investigator"  # điều tra viên tại Công an xã (cho CQĐT tỉnh)
    PROVINCIAL_AGENCY = "provincial_agency"  # Cơ quan CSĐT Công an cấp tỉnh


class ExtensionKind(StrEnum):
    COMPLEX_CASE = "complex_case"  # vụ việc phức tạp (tối đa 2 tháng)
    PROCURACY = "procuracy"  # Viện kiểm sát gia hạn (tối đa 2 tháng)


class Decision(StrEnum):
    INSTITUTE = "institute"  # khởi tố vụ án
    DECLINE = "decline"  # không khởi tố vụ án
    SUSPEND = "suspend"  # tạm đình chỉ việc giải quyết


class SuspensionReason(StrEnum):
    """Criminal Procedure Code art. 148 grounds."""

    AWAITING_EXPERT_ASSESSMENT = "awaiting_expert_assessment"  # chờ kết quả giám định
    AWAITING_ASSET_VALUATION = "awaiting_asset_valuation"  # chờ kết quả định giá tài sản
    AWAITING_JUDICIAL_ASSISTANCE = "awaiting_judicial_assistance"  # chờ tương trợ tư pháp
    AWAITING_DOCUMENTS = "awaiting_documents"  # chờ tài liệu, đồ vật đã yêu cầu cung cấp


class ResumeReason(StrEnum):
    RESUMED = "resumed"  # phục hồi giải quyết (lý do tạm đình chỉ không còn)
    SUSPENSION_ANNULLED = "suspension_annulled"  # VKS hủy quyết định tạm đình chỉ


class AdminField(StrEnum):
    """Field (lĩnh vực) of an administrative violation handled by the police."""

    PUBLIC_ORDER = "public_order"  # an ninh, trật tự, an toàn xã hội
    ROAD_TRAFFIC = "road_traffic"  # trật tự, an toàn giao thông đường bộ
    WATERWAY_TRAFFIC = "waterway_traffic"  # giao thông đường thủy
    FIRE_SAFETY = "fire_safety"  # phòng cháy, chữa cháy và cứu nạn, cứu hộ
    RESIDENCE_IDENTITY = "residence_identity"  # cư trú, căn cước
    WEAPONS_EXPLOSIVES = "weapons_explosives"  # vũ khí, vật liệu nổ, công cụ hỗ trợ
    DRUGS = "drugs"  # phòng, chống ma túy
    GAMBLING_SOCIAL_EVILS = "gambling_social_evils"  # cờ bạc, tệ nạn xã hội
    ENVIRONMENT = "environment"  # bảo vệ môi trường
    ECONOMIC_SMUGGLING = "economic_smuggling"  # buôn lậu, gian lận thương mại, hàng giả
    CYBERSECURITY = "cybersecurity"  # an ninh mạng
    OTHER = "other"  # lĩnh vực khác
