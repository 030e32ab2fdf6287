"""The final validation as one self-contained HTML page a manager can open in a browser.

No script, no external stylesheet, font or image, no network: inline CSS and inline SVG charts
drawn here. Every text value is escaped. The page holds entity names, counts, sums and codes
only, which is all an `EntityValidation` contains; secret-looking keys of the database
descriptions and run options are left out.

Failed entities come first everywhere. Entity sizes span six orders of magnitude, so the row
chart draws each entity twice: its size on a logarithmic scale, and where its rows went as
shares of its own source, so that a single rejected row of a small entity is visible.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .engine.validate import SECURITY, SECURITY_LISTS, Check, EntityValidation

CHECK_ORDER = ["accounting", "record_count", "referential_integrity", "data_quality", "money"]
_SECRET_WORDS = ("password", "secret", "token", "key", "conninfo", "dsn", "url")

# Okabe-Ito colours: distinguishable with colour-blindness; status never relies on colour alone.
_GREY, _BLUE, _ORANGE, _VERMILION, _SKY, _PURPLE = (
    "#6e7781",
    "#0072b2",
    "#e69f00",
    "#d55e00",
    "#56b4e9",
    "#cc79a7",
)
_RED_TEXT, _RED_BAND = "#b42318", "#fdecea"

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
 margin:0 auto;max-width:1180px;padding:24px}
h1{margin:0 0 4px;font-size:26px}
h2{margin:32px 0 8px;font-size:20px;border-bottom:1px solid #d0d7de}
.meta{color:#57606a;margin:0 0 12px}
.banner{display:inline-block;padding:6px 14px;border-radius:6px;font-weight:700;font-size:18px}
.verdict{font-weight:600;margin:8px 0}
.passed{background:#dafbe1;color:#116329}.failed{background:#ffebe9;color:#a40e26}
.none{background:#eaeef2;color:#424a53}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(124px,1fr));gap:10px;margin:16px 0}
.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;font-size:14px}
.card b{display:block;font-size:22px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}
th,td{border:1px solid #d0d7de;padding:4px 10px;text-align:left;vertical-align:top}
thead th{background:#f6f8fa}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.passed,td.failed,td.none{font-weight:600}td small{font-weight:400;display:block}
ul.failures li{color:#a40e26;font-weight:600}
.scroll{overflow-x:auto}figure{margin:8px 0}
figcaption{color:#57606a;font-size:13px}svg{max-width:100%;height:auto}
@media print{body{padding:0}h2{break-after:avoid}figure,table{break-inside:avoid}}
"""


@dataclass(frozen=True)
class About:
    """What produced the page: the tool, this validation, and the run that wrote the data."""

    version: str = ""
    run_id: str = ""
    command: str = ""
    seconds: float | None = None
    # migration.runs' latest row: id, command, arguments, toolVersion, startedAt, endedAt,
    # status.
    last_run: Mapping[str, Any] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _n(value: int) -> str:
    return f"{value:,}"


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _dec(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _money(value: Any) -> str:
    amount = _dec(value)
    return f"{amount:,}" if amount is not None else str(value)


def _public(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if not any(w in str(k).lower() for w in _SECRET_WORDS)}


@dataclass(frozen=True)
class _Rows:
    source: int
    migrated: int
    excluded: int
    rejected: int

    @property
    def accounted(self) -> int:
        return self.migrated + self.excluded + self.rejected


@dataclass(frozen=True)
class _MoneyLine:
    entity: str
    column: str
    source: Decimal
    target: Decimal
    rejected: Decimal
    excluded: Decimal
    kept_raw: Decimal
    difference: Decimal
    failed: bool


def _rows(result: EntityValidation) -> _Rows | None:
    check = next((c for c in result.checks if c.type == "accounting"), None)
    if check is None:
        return None
    d = check.details
    if "migrated" in d:
        return _Rows(
            _int(d.get("expected")),
            _int(d["migrated"]),
            _int(d.get("excluded")),
            _int(d.get("rejected")),
        )
    # The legacy archive: every source row is either archived or missing.
    return _Rows(_int(d.get("expected")), _int(d.get("actual")), 0, 0)


def _money_lines(results: Sequence[EntityValidation]) -> list[_MoneyLine]:
    lines = []
    for r in results:
        for c in r.checks:
            if c.type != "money":
                continue
            d = c.details

            def amount(key: str, d: Mapping[str, Any] = d) -> Decimal:
                return _dec(d.get(key, 0)) or Decimal(0)

            source, target, rejected, excluded, kept = (
                amount(k)
                for k in ("sourceSum", "targetSum", "rejectedSum", "excludedSum", "keptRawSum")
            )
            difference = target + rejected + excluded + kept - source
            lines.append(
                _MoneyLine(
                    r.entity,
                    str(d.get("column", "")),
                    source,
                    target,
                    rejected,
                    excluded,
                    kept,
                    difference,
                    c.status != "passed" or difference != 0,
                )
            )
    return lines


def _note(checks: list[Check]) -> str:
    """A short reading of one entity's checks of one type."""
    d = checks[0].details
    match checks[0].type:
        case "accounting" | "record_count":
            return f"{_n(_int(d.get('actual')))} of {_n(_int(d.get('expected')))}"
        case "referential_integrity":
            return f"{_n(_int(d.get('foreignKeyViolations')))} dangling"
        case "data_quality":
            threshold = d.get("accuracyThreshold")
            least = f" (min {threshold:g} %)" if isinstance(threshold, float | int) else ""
            return f"accuracy {d.get('accuracy', '?')} %{least}"
        case "money":
            ok = sum(c.status == "passed" for c in checks)
            return f"{ok} of {len(checks)} reconciled"
        case "security":
            return f"{_n(_int(d.get('tablesChecked')))} tables locked"
    return ""


def _failure(entity: str, check: Check) -> str:
    """One failed check in words, with the numbers that explain it."""
    d = check.details
    if check.type == "money":
        terms = " + ".join(
            f"{name} {_money(d.get(key, 0))}"
            for name, key in (
                ("rejected", "rejectedSum"),
                ("excluded", "excludedSum"),
                ("kept raw", "keptRawSum"),
            )
        )
        return (
            f"{entity}, money {d.get('column')}: source {_money(d.get('sourceSum'))} against"
            f" target {_money(d.get('targetSum'))} + {terms}; difference"
            f" {_money(d.get('difference'))}"
        )
    numbers = ", ".join(
        f"{k} {_n(v) if isinstance(v, int) else v}"
        for k, v in d.items()
        if isinstance(v, int | float | str) and not isinstance(v, bool)
    )
    return f"{entity}, {check.type}: {numbers}"


def _security_section(results: Sequence[EntityValidation]) -> list[str]:
    """What Supabase's Data API roles could reach of the tool's objects: nothing, or a list."""
    check = next((c for r in results for c in r.checks if c.type == SECURITY), None)
    if check is None:
        return []
    d = check.details
    facts = [
        ["Tables checked", _n(_int(d.get("tablesChecked")))],
        ["Functions checked", _n(_int(d.get("functionsChecked")))],
        ["API roles in the database", _e(", ".join(d.get("apiRoles") or []) or "none")],
        ["Schemas the Data API serves", _e(", ".join(d.get("exposedSchemas") or []))],
    ]
    for key, label in SECURITY_LISTS:
        items = [str(x) for x in d.get(key) or []]
        cell = (
            f'<td class="failed">{_e(", ".join(items))}</td>'
            if items
            else '<td class="passed">none</td>'
        )
        facts.append([_e(label), cell])
    return [
        "<section><h2>Security (Supabase Data API)</h2>",
        f'<p class="banner {check.status}">Security check: {check.status.upper()}</p>',
        '<p class="meta">Every table of the tool has row-level security and no privilege for'
        " PUBLIC, anon or authenticated; the tool writes no policy. Access rules are the"
        " application's to write.</p>",
        _table(["What", "Result"], facts, set()),
        "</section>",
    ]


def _short_first(item: tuple[str, Mapping[str, Any]]) -> tuple[bool, str]:
    table, counts = item
    return counts.get("source") == counts.get("archived"), table


def _archive_section(results: Sequence[EntityValidation]) -> list[str]:
    check = next(
        (
            c
            for r in results
            for c in r.checks
            if c.type == "accounting" and "perTable" in c.details
        ),
        None,
    )
    if check is None:
        return []
    per_table: Mapping[str, Mapping[str, Any]] = check.details["perTable"]
    rows = [
        [_e(t), _n(_int(c.get("source"))), _n(_int(c.get("archived"))),
         _word(_int(c.get("source")) == _int(c.get("archived")))]
        for t, c in sorted(per_table.items(), key=_short_first)
    ]  # fmt: skip
    return [
        "<section><h2>Legacy archive</h2>",
        '<p class="meta">Legacy tables with no target entity, kept whole as JSON rows in the'
        " target's legacy_archive schema (not exposed to the Data API).</p>",
        _table(["Legacy table", "Source rows", "Archived", "Status"], rows, {1, 2}),
        "</section>",
    ]


def _status_cell(checks: list[Check]) -> str:
    if not checks:
        return '<td class="none">not run</td>'
    status = "passed" if all(c.status == "passed" for c in checks) else "failed"
    return f'<td class="{status}">{status}<small>{_e(_note(checks))}</small></td>'


# ------------------------------------------------------------------------------------ charts


@dataclass(frozen=True)
class _Bar:
    # (name, share of the bar area from 0 to 1, colour, the value a tooltip shows)
    segments: tuple[tuple[str, float, str, str], ...]
    text: str


@dataclass(frozen=True)
class _Group:
    label: str
    bars: tuple[_Bar, ...]
    alert: str = ""  # words shown in red under the label, and a red band behind the group


_BAR_H, _GAP, _PAD = 16, 4, 10
_CHAR_W, _BOLD_W = 7.6, 8.2  # generous average glyph widths at 13px, so text is never cut
_MIN_W = 3.0  # a non-zero segment is never thinner than this, so one row out of a million shows


def _log_share(value: float, biggest: float) -> float:
    """A logarithmic length from 0 to 1: 1 row and 1 million rows both visible."""
    if value <= 0 or biggest <= 0:
        return 0.0
    return math.log10(1 + value) / math.log10(1 + biggest)


def _svg_chart(
    label: str, desc: str, groups: Sequence[_Group], legend: Sequence[tuple[str, str]]
) -> str:
    """A horizontal bar chart: one group of bars per label; segment lengths come as shares."""
    label_w = min(max((len(g.label) for g in groups), default=10) * _BOLD_W + 20, 300)
    value_w = max((len(b.text) for g in groups for b in g.bars), default=0) * _CHAR_W + 16
    width = max(1000, label_w + 360 + value_w)  # at least 360 px of bars; the page scales it
    area = width - label_w - value_w
    top = 34 if legend else 10
    heights = [max(len(g.bars) * (_BAR_H + _GAP) - _GAP, 34 if g.alert else 16) for g in groups]
    height = top + sum(h + 2 * _PAD for h in heights) + 10 + (0 if groups else 30)
    out = [
        f'<svg role="img" aria-label="{_e(label)}" viewBox="0 0 {width:.0f} {height:.0f}"'
        f' width="{width:.0f}" height="{height:.0f}"'
        ' font-family="system-ui,sans-serif" font-size="13">',
        f"<title>{_e(label)}</title><desc>{_e(desc)}</desc>",
    ]
    x = 0.0
    for name, colour in legend:
        out.append(f'<rect x="{x:.0f}" y="8" width="14" height="14" fill="{colour}"/>')
        out.append(f'<text x="{x + 19:.0f}" y="20">{_e(name)}</text>')
        x += len(name) * 7.5 + 44
    if not groups:
        out.append(f'<text x="0" y="{top + 20}" fill="#57606a">Nothing to show.</text>')
    y = float(top)
    for group, h in zip(groups, heights, strict=True):
        if group.alert:
            out.append(
                f'<rect x="0" y="{y:.0f}" width="{width:.0f}" height="{h + 2 * _PAD}"'
                f' fill="{_RED_BAND}"/>'
            )
        fits = int((label_w - 16) / _BOLD_W)
        shown = group.label if len(group.label) <= fits else group.label[: fits - 1] + "…"
        mid = y + _PAD + h / 2
        label_y = mid - 4 if group.alert else mid + 4
        out.append(
            f'<text x="6" y="{label_y:.0f}" font-weight="600">'
            f"<title>{_e(group.label)}</title>{_e(shown)}</text>"
        )
        if group.alert:
            out.append(
                f'<text x="6" y="{mid + 12:.0f}" fill="{_RED_TEXT}" font-weight="700">'
                f"{_e(group.alert)}</text>"
            )
        by = y + _PAD
        for bar in group.bars:
            bx = label_w
            for name, share, colour, value in bar.segments:
                if share <= 0:
                    continue
                w = max(share * area, _MIN_W)
                out.append(
                    f'<rect x="{bx:.1f}" y="{by:.0f}" width="{w:.1f}" height="{_BAR_H}"'
                    f' fill="{colour}"><title>{_e(name)}: {_e(value)}</title></rect>'
                )
                bx += w
            fill = _RED_TEXT if group.alert else "#1f2328"
            out.append(
                f'<text x="{bx + 6:.1f}" y="{by + 12:.0f}" fill="{fill}">{_e(bar.text)}</text>'
            )
            by += _BAR_H + _GAP
        y += h + 2 * _PAD
    out.append("</svg>")
    return "".join(out)


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>"


def _rows_chart(rows: Mapping[str, _Rows]) -> str:
    biggest = float(max((x.source for x in rows.values()), default=0))
    groups = []
    for entity, x in rows.items():
        whole = max(x.source, x.accounted, 1)
        parts = (
            ("migrated", x.migrated, _BLUE),
            ("excluded", x.excluded, _ORANGE),
            ("rejected", x.rejected, _VERMILION),
        )
        groups.append(
            _Group(
                entity,
                (
                    _Bar(
                        (("source", _log_share(x.source, biggest), _GREY, _n(x.source)),),
                        f"{_n(x.source)} source rows",
                    ),
                    _Bar(
                        tuple((name, n / whole, colour, _n(n)) for name, n, colour in parts),
                        f"{_n(x.migrated)} migrated, {_n(x.excluded)} excluded,"
                        f" {_n(x.rejected)} rejected",
                    ),
                ),
                "" if x.accounted == x.source else "MISMATCH",
            )
        )
    desc = (
        f"For {len(groups)} entities, failed first: the source rows on a logarithmic scale,"
        " then the shares of them migrated, excluded and rejected;"
        f" {sum(bool(g.alert) for g in groups)} do not add up."
    )
    legend = [("source (log scale)", _GREY), ("migrated", _BLUE), ("excluded", _ORANGE)]
    return _svg_chart("Rows per entity", desc, groups, [*legend, ("rejected", _VERMILION)])


def _issues_chart(ranked: Sequence[tuple[str, int]]) -> str:
    biggest = float(max((n for _, n in ranked), default=0))
    groups = [
        _Group(k, (_Bar((("issues", _log_share(n, biggest), _PURPLE, _n(n)),), _n(n)),))
        for k, n in ranked
    ]
    desc = "; ".join(f"{k}: {_n(n)}" for k, n in ranked) or "No data-quality issues."
    return _svg_chart("Data-quality issues by kind", desc, groups, [])


def _money_chart(money: Sequence[_MoneyLine]) -> str:
    groups = []
    for m in money:
        whole = float(abs(m.source)) or 1.0
        parts = (
            ("target", m.target, _BLUE),
            ("rejected", m.rejected, _VERMILION),
            ("excluded", m.excluded, _ORANGE),
            ("kept raw", m.kept_raw, _PURPLE),
        )
        text = f"source {_money(m.source)}"
        if m.rejected or m.excluded or m.kept_raw:
            text += f"; rejected {_money(m.rejected)}"
        if m.failed:
            text += f"; difference {_money(m.difference)} FAILED"
        bar = _Bar(
            tuple((n, float(abs(v)) / whole, c, _money(v)) for n, v, c in parts),
            text,
        )
        groups.append(
            _Group(f"{m.entity} · {m.column}", (bar,), "NOT RECONCILED" if m.failed else "")
        )
    desc = (
        f"For {len(money)} money columns, the source sum split into what is in the target,"
        f" rejected, excluded and kept raw; {sum(m.failed for m in money)} do not reconcile."
    )
    legend = [("target", _BLUE), ("rejected", _VERMILION), ("excluded", _ORANGE),
              ("kept raw", _PURPLE)]  # fmt: skip
    return _svg_chart("Money reconciliation", desc, groups, legend)


# ------------------------------------------------------------------------------------ page


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    """A table from already-escaped cells; `numeric` are the columns aligned right."""
    if not rows:
        return '<p class="meta">None.</p>'
    head = "".join(
        f'<th scope="col"{" class=num" if i in numeric else ""}>{_e(h)}</th>'
        for i, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if i == 0:
                cells.append(f'<th scope="row">{cell}</th>')
            elif cell.startswith("<td"):
                cells.append(cell)
            else:
                cells.append(f"<td{' class=num' if i in numeric else ''}>{cell}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def _word(ok: bool) -> str:
    return '<td class="passed">passed</td>' if ok else '<td class="failed">failed</td>'


def _endpoint(side: str, description: Mapping[str, object]) -> str:
    shown = [f"{_e(k)}: {_e(v)}" for k, v in _public(description).items()]
    return f"<li><b>{_e(side)}</b> — {', '.join(shown) or 'not described'}</li>"


def _about_rows(about: About, generated_at: datetime) -> list[list[str]]:
    rows = [
        ["Tool", _e(f"mdw-migrate {about.version}".strip())],
        ["This validation", _e(f"{about.command} · run id {about.run_id}".strip(" ·"))],
        ["Generated", _e(generated_at.isoformat(timespec="seconds"))],
    ]
    if about.seconds is not None:
        rows.append(["Validation took", _e(f"{about.seconds:.1f} s")])
    if about.options:
        rows.append(
            ["Options", _e(", ".join(f"{k}={v}" for k, v in _public(about.options).items()))]
        )
    run = about.last_run
    if run:
        started, ended = run.get("startedAt"), run.get("endedAt")
        took = ""
        if isinstance(started, datetime) and isinstance(ended, datetime):
            took = f", took {(ended - started).total_seconds():.1f} s"
        options = _public(run.get("arguments") or {})
        rows.append([
            "Last run that wrote the target",
            _e(f"{run.get('command')} ({run.get('status')}), run id {run.get('id')},"
               f" mdw-migrate {run.get('toolVersion')}, started {started}{took};"
               f" options {', '.join(f'{k}={v}' for k, v in options.items()) or 'none'}"),
        ])  # fmt: skip
    return rows


def _failed_first(results: Sequence[EntityValidation]) -> list[EntityValidation]:
    return sorted(results, key=lambda r: r.passed)  # stable: dependency order otherwise


def render_html(
    results: Sequence[EntityValidation],
    *,
    title: str,
    generated_at: datetime,
    source: Mapping[str, object],
    target: Mapping[str, object],
    verdict: str = "",
    about: About | None = None,
) -> str:
    """The whole report as one HTML document."""
    about = about or About()
    ordered = _failed_first(results)
    entities = [r for r in ordered if not any(c.type == SECURITY for c in r.checks)]
    failed = [r for r in entities if not r.passed]
    rows = {r.entity: x for r in entities if (x := _rows(r)) is not None}
    money = sorted(_money_lines(ordered), key=lambda m: not m.failed)
    kinds: dict[str, int] = {}
    for r in results:
        for issue in r.issues:
            kind = str(issue.get("kind", "unknown"))
            kinds[kind] = kinds.get(kind, 0) + _int(issue.get("count"))
    ranked = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
    insecure = any(not r.passed for r in results if r not in entities)
    status = "none" if not entities else "failed" if failed or insecure else "passed"
    banner = {"none": "NO ENTITIES VALIDATED", "failed": "FAILED", "passed": "PASSED"}[status]
    rejected_money = sum((m.rejected for m in money), Decimal(0))
    cards = [
        ("Entities passed", _n(len(entities) - len(failed))),
        ("Entities failed", _n(len(failed))),
        *((name, _n(sum(getattr(x, name.lower()) for x in rows.values()))) for name in
          ("Source", "Migrated", "Excluded", "Rejected")),
        ("Data-quality issues", _n(sum(kinds.values()))),
        ("Money columns reconciled", f"{sum(not m.failed for m in money)} of {len(money)}"),
        ("Rejected money", _money(rejected_money)),
    ]  # fmt: skip
    failures = [
        f"<li>{_e(_failure(r.entity, c))}</li>"
        for r in ordered
        for c in r.checks
        if c.status != "passed" and c.type != SECURITY
    ]

    types = [t for t in CHECK_ORDER if any(c.type == t for r in results for c in r.checks)]
    types += sorted({c.type for r in results for c in r.checks} - set(types))
    check_rows = [
        [_e(r.entity), _word(r.passed), *(_status_cell([c for c in r.checks if c.type == t])
                                          for t in types)]
        for r in ordered
    ]  # fmt: skip
    accounting_rows = [
        [_e(e), *map(_n, (x.source, x.migrated, x.excluded, x.rejected, x.accounted)),
         _word(x.source == x.accounted)]
        for e, x in rows.items()
    ]  # fmt: skip
    reason_rows = [
        [_e(r.entity), _e(outcome), _e(code), _n(_int(n))]
        for r in entities
        for c in r.checks
        if c.type == "accounting"
        for outcome, key in (("rejected", "rejectedBy"), ("excluded", "excludedBy"))
        for code, n in sorted((c.details.get(key) or {}).items())
    ]
    money_rows = [
        [_e(m.entity), _e(m.column),
         *(_money(v) for v in (m.source, m.target, m.rejected, m.excluded, m.kept_raw)),
         f'<td class="num{" failed" if m.failed else ""}">{_e(_money(m.difference))}</td>',
         _word(not m.failed)]
        for m in money
    ]  # fmt: skip
    issue_rows = [
        [_e(r.entity), _e(i.get("kind", "")), _e(i.get("column") or "—"), _n(_int(i.get("count")))]
        for r in ordered
        for i in r.issues
    ]
    advice = [
        f"<li><b>{_e(r.entity)}</b>: {_e(text)}</li>" for r in ordered for text in r.recommendations
    ]
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\""
        " content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_e(title)}</h1>",
        f'<p class="banner {status}">Overall: {banner}</p>',
        f'<p class="verdict">{_e(verdict)}</p>' if verdict else "",
        '<div class="cards">',
        *(f'<div class="card">{_e(k)}<b>{_e(v)}</b></div>' for k, v in cards),
        "</div></header><main>",
        *(["<section><h2>What failed</h2>", f'<ul class="failures">{"".join(failures)}</ul>',
           "</section>"] if failures else []),
        "<section><h2>Money reconciliation</h2>",
        _figure(_money_chart(money), "Each money column's source sum, split into what is in"
                " the target and what was rejected, excluded or kept raw (a value too large for"
                " its column). Source = target + rejected + excluded + kept raw, to the cent;"
                " a red band and NOT RECONCILED mark a difference."),
        _table(["Entity", "Column", "Source", "Target", "Rejected", "Excluded", "Kept raw",
                "Difference", "Status"], money_rows, {2, 3, 4, 5, 6, 7}),
        "</section>",
        "<section><h2>Rows per entity</h2>",
        _figure(_rows_chart(rows), "First bar: the entity's source rows, on a logarithmic scale."
                " Second bar: where those rows went, as shares of the entity's own source, so"
                " that small entities and single rows show. A red band and MISMATCH mark an"
                " entity whose rows do not add up."),
        _table(["Entity", "Source", "Migrated", "Excluded", "Rejected", "Accounted", "Status"],
               accounting_rows, {1, 2, 3, 4, 5}),
        "</section><section><h2>Excluded and rejected rows by reason</h2>",
        '<p class="meta">Each row that was not migrated, by entity and by named rule or reason'
        " code; the rows themselves are in the target's migration.row_outcomes.</p>",
        _table(["Entity", "Outcome", "Rule / reason", "Rows"], reason_rows, {3}),
        "</section><section><h2>Data-quality issues</h2>",
        _figure(_issues_chart(ranked), "Issues of each kind, summed over all entities, on a"
                " logarithmic scale. Rows with an issue are migrated; the issue says what was"
                " cleaned or left NULL."),
        _table(["Entity", "Kind", "Column", "Count"], issue_rows, {3}),
        "</section><section><h2>Checks by entity (failed first)</h2>",
        _table(["Entity", "Overall", *types], check_rows, set()),
        "</section>",
        *_security_section(results),
        *_archive_section(results),
        "<section><h2>Recommendations</h2>",
        f"<ul>{''.join(advice)}</ul>" if advice else '<p class="meta">None.</p>',
        "</section><section><h2>About this report</h2>",
        _table(["What", "Value"], _about_rows(about, generated_at), set()),
        f'<ul class="meta">{_endpoint("Source", source)}{_endpoint("Target", target)}</ul>',
        "</section></main></body></html>",
    ])  # fmt: skip


def write_report(directory: Path, html_text: str, stamp: str) -> Path:
    """Writes `validation-final-<stamp>.html` into `directory` and returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"validation-final-{stamp}.html"
    path.write_text(html_text, encoding="utf-8")
    return path
