"""The benefit map of a collaboration, drawn on the server as SVG: the functions that enable its
benefits (left), the benefits and dis-benefits (middle, each marked with its RAG status) and the
objectives they serve (right), with a line from each enabler to its benefit and from each
benefit to its objective (the IPA's "objective ← benefits ← enablers").

Only the positions are computed here, in whole pixels; the markup is the
``webview/_benefit_map.html`` template's. Every node carries its full name as a tooltip (long
names are cut to fit the box), and each benefit links to its page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 960
ROW = 34  # the height of a benefit's slot
BOX = 26  # the height of a node's box
TOP = 36  # room for the column headings
COLUMNS = {"enabler": (8, 260), "benefit": (350, 610), "objective": (692, 952)}  # (left, right)
CHARACTERS = 36  # the most of a name a box shows
WHOLE_COLLABORATION = "The whole collaboration"
NO_OBJECTIVE = "No objective named"


@dataclass(frozen=True)
class Node:
    key: str
    label: str  # as shown (cut to fit)
    title: str  # in full, for the tooltip
    x: int
    y: int  # the box's top
    width: int
    kind: str  # enabler, benefit, dis_benefit, objective
    rag: str | None = None
    href: str | None = None

    @property
    def middle(self) -> int:
        return self.y + BOX // 2


@dataclass(frozen=True)
class Link:
    path: str  # an SVG path from one node's right edge to the next one's left edge
    kind: str  # enables, serves


@dataclass(frozen=True)
class BenefitMap:
    width: int
    height: int
    nodes: list[Node]
    links: list[Link]
    headings: list[tuple[int, str]]  # (x, text)
    description: str


def _cut(text: str) -> str:
    """The text cut to fit its box, at a word's end where it can be (so what shows is words of
    the full name, which assistive technology reads)."""
    if len(text) <= CHARACTERS:
        return text
    cut = text[: CHARACTERS - 1]
    at_word = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return (at_word if len(at_word) >= CHARACTERS // 2 else cut).rstrip(" ,;:-") + "…"


def benefit_map(rows: Sequence[Mapping[str, Any]], functions: Mapping[str, str], href_of: Any) -> BenefitMap | None:
    """The map of these dashboard rows (None without any). ``functions`` names each function by
    its id; ``href_of(benefit_id)`` is a benefit's page."""
    if not rows:
        return None
    ordered = sorted(rows, key=lambda r: (r.get("objective") or "\uffff", r["kind"] != "benefit", r["title"]))
    height = TOP + ROW * len(ordered) + 8
    benefit_nodes: list[Node] = []
    left, right = COLUMNS["benefit"]
    for index, row in enumerate(ordered):
        title = row["title"] + (" (dis-benefit)" if row["kind"] == "dis_benefit" else "")
        rag = row.get("rag")
        benefit_nodes.append(
            Node(
                key=row["benefit_id"],
                label=_cut(row["title"]),
                title=f"{title}. RAG: {rag or 'not assessed'}",
                x=left,
                y=TOP + ROW * index + (ROW - BOX) // 2,
                width=right - left,
                kind=row["kind"],
                rag=rag,
                href=href_of(row["benefit_id"]),
            )
        )
    enablers = _side_nodes(
        [(row.get("function_id") or "", benefit) for row, benefit in zip(ordered, benefit_nodes, strict=True)],
        lambda key: functions.get(key, key) if key else WHOLE_COLLABORATION,
        "enabler",
    )
    objectives = _side_nodes(
        [(row.get("objective") or "", benefit) for row, benefit in zip(ordered, benefit_nodes, strict=True)],
        lambda key: key or NO_OBJECTIVE,
        "objective",
    )
    links = []
    for row, benefit in zip(ordered, benefit_nodes, strict=True):
        enabler = enablers[row.get("function_id") or ""]
        objective = objectives[row.get("objective") or ""]
        links.append(Link(_curve(enabler.x + enabler.width, enabler.middle, benefit.x, benefit.middle), "enables"))
        links.append(Link(_curve(benefit.x + benefit.width, benefit.middle, objective.x, objective.middle), "serves"))
    served = len({row.get("objective") for row in ordered if row.get("objective")})
    description = (
        f"{len(ordered)} benefits and dis-benefits, enabled by {len(enablers)} "
        f"{'enabler' if len(enablers) == 1 else 'enablers'}, serving {served} named "
        f"{'objective' if served == 1 else 'objectives'}. The benefits table below lists the same."
    )
    headings = [
        (COLUMNS["enabler"][0], "Enabled by"),
        (COLUMNS["benefit"][0], "Benefits (RAG)"),
        (COLUMNS["objective"][0], "Objectives"),
    ]
    nodes = [*enablers.values(), *benefit_nodes, *objectives.values()]
    return BenefitMap(WIDTH, height, nodes, links, headings, description)


def _side_nodes(pairs: list[tuple[str, Node]], name_of: Any, kind: str) -> dict[str, Node]:
    """One node per distinct key, placed at the middle of the benefits it links to (pushed down
    where it would overlap the one above)."""
    left, right = COLUMNS[kind]
    middles: dict[str, list[int]] = {}
    for key, benefit in pairs:
        middles.setdefault(key, []).append(benefit.middle)
    nodes: dict[str, Node] = {}
    lowest = TOP - ROW
    for key, values in sorted(middles.items(), key=lambda item: sum(item[1]) / len(item[1])):
        y = max(sum(values) // len(values) - BOX // 2, lowest + ROW)  # never below the benefits' rows
        lowest = y
        name = name_of(key)
        nodes[key] = Node(key=key, label=_cut(name), title=name, x=left, y=y, width=right - left, kind=kind)
    return nodes


def _curve(x1: int, y1: int, x2: int, y2: int) -> str:
    middle = (x1 + x2) // 2
    return f"M{x1},{y1} C{middle},{y1} {middle},{y2} {x2},{y2}"
