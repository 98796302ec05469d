"""Names of the demo audience, in the languages of the web app's users.

Each language: (locale, time zone, given names, family names, share of the audience in %)."""

from __future__ import annotations

_TABLE = """
en | Europe/London | Olivia Jack Amelia Harry Isla Noah Grace Leo | Smith Jones Taylor Brown Wilson Evans | 30
ar      | Asia/Dubai     | ليلى عمر فاطمة يوسف مريم خالد نور سامي | الحداد النجار المصري العلي الخطيب السعدي | 15
th      | Asia/Bangkok   | สมชาย สุดา มาลี ประเสริฐ วิไล อนันต์ นภา ชัยวัฒน์ | ศรีสุข วงศ์ใหญ่ แก้วมณี ทองดี สุขสันต์ | 15
uk | Europe/Kyiv | Олена Тарас Оксана Андрій Ірина Богдан Марія | Шевченко Коваленко Бондаренко Ткаченко Мельник | 15
zh-Hans | Asia/Shanghai  | 伟 芳 娜 敏 静 磊 洋 婷 | 王 李 张 刘 陈 杨 赵 | 15
lo      | Asia/Vientiane | ສົມພອນ ບຸນມີ ຄຳຫຼ້າ ນ້ອຍ ແສງ ພອນ | ພົມມະຈັນ ສີສຸວັນ ວົງສາ ແກ້ວມະນີ ໄຊຍະວົງ | 10
"""


def _languages() -> tuple[tuple[str, str, tuple[str, ...], tuple[str, ...], int], ...]:
    out = []
    for line in _TABLE.strip().splitlines():
        locale, tz, given, family, share = (part.strip() for part in line.split("|"))
        out.append((locale, tz, tuple(given.split()), tuple(family.split()), int(share)))
    return tuple(out)


LANGUAGES = _languages()
