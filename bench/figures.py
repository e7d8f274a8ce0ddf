"""What every benchmark prints: each figure as it is measured, then one table with the goals."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Figure:
    name: str
    value: str
    goal: str = ""
    met: bool | None = None  # None: informational
    airflow: str = ""  # the same measure on Airflow, where we have one


FIGURES: list[Figure] = []


def figure(
    name: str, value: str, goal: str = "", met: bool | None = None, airflow: str = ""
) -> None:
    FIGURES.append(Figure(name, value, goal, met, airflow))
    print(f"  {name}: {value}" + (f"   (goal {goal})" if goal else ""), flush=True)


def met_word(met: bool | None) -> str:
    return "-" if met is None else ("yes" if met else "no")


def grid(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as aligned columns, the first a header underlined with dashes."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def print_table(load_at_start: float, *, airflow: bool = False) -> None:
    header = ("figure", "value", "goal", "met?") + (("Airflow 3.3 (x slower)",) if airflow else ())
    rows = [header]
    for f in FIGURES:
        rows.append((f.name, f.value, f.goal, met_word(f.met)) + ((f.airflow,) if airflow else ()))
    print(f"\nSummary (1-minute load average at start: {load_at_start:.2f})")
    print("\n".join(grid(rows)))
