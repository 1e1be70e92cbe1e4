"""The reporting units: Shanghai's 16 districts plus the Lingang Special Area, which reports like a district.

Response data carry the Chinese name (``unit`` column values such as ``浦东新区``); file names and URLs use the
ASCII ``slug``. This list is also the allow-list that report parameters are checked against.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    slug: str
    zh: str
    en: str

    def name(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh


UNITS: tuple[Unit, ...] = (
    Unit("huangpu", "黄浦区", "Huangpu"),
    Unit("xuhui", "徐汇区", "Xuhui"),
    Unit("changning", "长宁区", "Changning"),
    Unit("jingan", "静安区", "Jing'an"),
    Unit("putuo", "普陀区", "Putuo"),
    Unit("hongkou", "虹口区", "Hongkou"),
    Unit("yangpu", "杨浦区", "Yangpu"),
    Unit("minhang", "闵行区", "Minhang"),
    Unit("baoshan", "宝山区", "Baoshan"),
    Unit("jiading", "嘉定区", "Jiading"),
    Unit("pudong", "浦东新区", "Pudong New Area"),
    Unit("jinshan", "金山区", "Jinshan"),
    Unit("songjiang", "松江区", "Songjiang"),
    Unit("qingpu", "青浦区", "Qingpu"),
    Unit("fengxian", "奉贤区", "Fengxian"),
    Unit("chongming", "崇明区", "Chongming"),
    Unit("lingang", "临港新片区", "Lingang Special Area"),
)

_BY_KEY = {k: u for u in UNITS for k in (u.slug, u.zh, u.en)}


def find_unit(name: str) -> Unit | None:
    """The unit whose slug, Chinese or English name is exactly ``name``; None otherwise."""
    return _BY_KEY.get(name)
