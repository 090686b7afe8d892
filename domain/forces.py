"""The 43 territorial police forces of England and Wales, with stable codes.

Codes are lower-case and hyphenated; once published they never change, because other tools
store them.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import UnknownForce


@dataclass(frozen=True)
class Force:
    code: str
    name: str
    country: str


_ENGLAND = [
    ("avon-somerset", "Avon and Somerset Constabulary"),
    ("bedfordshire", "Bedfordshire Police"),
    ("cambridgeshire", "Cambridgeshire Constabulary"),
    ("cheshire", "Cheshire Constabulary"),
    ("city-of-london", "City of London Police"),
    ("cleveland", "Cleveland Police"),
    ("cumbria", "Cumbria Constabulary"),
    ("derbyshire", "Derbyshire Constabulary"),
    ("devon-cornwall", "Devon and Cornwall Police"),
    ("dorset", "Dorset Police"),
    ("durham", "Durham Constabulary"),
    ("essex", "Essex Police"),
    ("gloucestershire", "Gloucestershire Constabulary"),
    ("greater-manchester", "Greater Manchester Police"),
    ("hampshire", "Hampshire and Isle of Wight Constabulary"),
    ("hertfordshire", "Hertfordshire Constabulary"),
    ("humberside", "Humberside Police"),
    ("kent", "Kent Police"),
    ("lancashire", "Lancashire Constabulary"),
    ("leicestershire", "Leicestershire Police"),
    ("lincolnshire", "Lincolnshire Police"),
    ("merseyside", "Merseyside Police"),
    ("metropolitan", "Metropolitan Police Service"),
    ("norfolk", "Norfolk Constabulary"),
    ("northamptonshire", "Northamptonshire Police"),
    ("northumbria", "Northumbria Police"),
    ("north-yorkshire", "North Yorkshire Police"),
    ("nottinghamshire", "Nottinghamshire Police"),
    ("south-yorkshire", "South Yorkshire Police"),
    ("staffordshire", "Staffordshire Police"),
    ("suffolk", "Suffolk Constabulary"),
    ("surrey", "Surrey Police"),
    ("sussex", "Sussex Police"),
    ("thames-valley", "Thames Valley Police"),
    ("warwickshire", "Warwickshire Police"),
    ("west-mercia", "West Mercia Police"),
    ("west-midlands", "West Midlands Police"),
    ("west-yorkshire", "West Yorkshire Police"),
    ("wiltshire", "Wiltshire Police"),
]
_WALES = [
    ("dyfed-powys", "Dyfed-Powys Police"),
    ("gwent", "Gwent Police"),
    ("north-wales", "North Wales Police"),
    ("south-wales", "South Wales Police"),
]

FORCES: dict[str, Force] = {
    code: Force(code, name, country)
    for country, forces in (("England", _ENGLAND), ("Wales", _WALES))
    for code, name in forces
}


def check_force_code(code: str, field: str | None = None) -> str:
    if code not in FORCES:
        raise UnknownForce(f"unknown force code {code!r}; GET /api/v1/forces lists them", field=field)
    return code
