"""Closed vocabularies shared by the write side, the API and the audit rules (code ↔ 中文)."""

from __future__ import annotations

# Budget lines / expenditure categories (预算科目 / 支出类别). The last group is prohibited for lottery funds
# (EAR-02) but can still be recorded: what happened is recorded, and the audit rules flag it.
CATEGORIES: dict[str, str] = {
    "staff": "人员经费",
    "activities": "活动经费",
    "training": "培训费",
    "supervision": "督导费",
    "equipment": "设备购置",
    "management": "管理费",
    "travel": "差旅费",
    "office": "办公费",
    "subcontracting": "转委托服务费",
    "overseas_travel": "因公出国(境)费",
    "official_reception": "公务接待费",
    "official_vehicles": "公务用车购置及运行费",
    "government_staff_pay": "机关人员工资津补贴",
    "government_utilities": "机关水电物业费",
    "buildings": "楼堂馆所建设",
    "investment": "对外投资及经营",
}
PROHIBITED_CATEGORIES = frozenset(
    {
        "overseas_travel",
        "official_reception",
        "official_vehicles",
        "government_staff_pay",
        "government_utilities",
        "buildings",
        "investment",
    }
)

PAYEE_KINDS: dict[str, str] = {
    "provider": "承接机构",
    "service_organisation": "其他社会服务机构",
    "supplier": "供应商",
    "individual": "个人",
    "government_unit": "政府机关单位",
    "government_staff": "机关工作人员",
    "other": "其他",
}

SERVICE_DOMAINS: dict[str, str] = {
    "social_assistance": "社会救助",
    "elderly_care": "养老服务",
    "child_welfare": "儿童福利",
    "community_governance": "社区治理",
    "marriage_funeral": "婚姻殡葬",
    "disability_services": "残疾人服务",
}

OUTPUT_INDICATORS: dict[str, str] = {
    "cases": "个案",
    "groups": "小组",
    "community_activities": "社区活动",
    "home_visits": "入户探访",
    "people_served": "服务人次",
    # Village/community social work service points newly put into service that month (a month's figure, summed like
    # every indicator: the sum is the points the project runs; see projections/coverage.py).
    "service_points": "村(社区)服务点",
}
