"""Demo data from the public record: ``flask --app wsgi demo load`` (``demo/cli.py``).

Records three real cases from public documents (``docs/demo-data.md`` lists them) through the
application service, never by writing to the store directly. The cases are data, one JSON file
each in ``demo/cases/`` (docs/demo-data.md gives the step format), run by ``demo/loader.py``:

- West Mercia and Warwickshire's Strategic Alliance (2012-2020): 69/31, West Mercia's notice of
  9 October 2018, local policing separated in April 2019, the s23G extension of October 2019,
  and the exit case: Warwickshire's claim, the independent assessment, the dispute before the
  Home Secretary, the settlement of 30 March 2020 (10,500,000.00 plus 270,000.00 written off),
  three instalments over about 15 months and their payments;
- Dorset and Devon & Cornwall's Strategic Alliance (March 2015): its business areas going live
  2015-18, the 7 benefits of the October 2014 benefits strategy, the Prevention (2019) and
  Intelligence (2020) decouplings decided through the Working Together Board, the merger
  declined in 2018 and the board's reviews;
- 7F Procurement (January 2019): seven forces, the procurement savings benefit (1a Money,
  8,455,000.00 over four years, measured quarterly) and the 1,150,000.00 of savings not in the
  business case as a benefit of its own.

Every date, actor, reason and figure follows the documents; ``evidence`` names the document
(``demo/sources.json``). Where the public record gives no figure or date, the reason says so
and the value is labelled ``Assumption (not public): ...``.

Every step carries its own Idempotency-Key (principal ``demo``, key ``demo:<case>:<step>``), so
loading again replays each step from its stored result and records nothing new; the ids later
steps need (functions, exit cases, benefits) come from those results. A store loaded by an
earlier version of the demo whose step has since changed refuses the step (the key's
fingerprint differs) rather than record it twice.

The demo lives outside the service package: it uses the application's public commands, and
nothing in ``domain``, ``service`` or ``projections`` imports it.
"""

from demo.loader import (
    CALLER,
    PRINCIPAL,
    DemoDataError,
    DemoLoad,
    DemoStepRefused,
    load_demo,
    load_demo_if_empty,
    read_sources,
    read_steps,
)

__all__ = [
    "CALLER",
    "PRINCIPAL",
    "DemoDataError",
    "DemoLoad",
    "DemoStepRefused",
    "load_demo",
    "load_demo_if_empty",
    "read_sources",
    "read_steps",
]
