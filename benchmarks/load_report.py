"""The load test's result as one document, and its table: per page p50/p95/max and errors by kind,
events delivered per client against events written, the server log's errors, the loop's writes."""

from __future__ import annotations

import statistics
from typing import Any

from load_researchers import Researcher, Stats, order_faults


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def page_rows(stats: Stats) -> list[dict[str, Any]]:
    rows = []
    for page in sorted(set(stats.latencies) | set(stats.errors)):
        times, errors = stats.latencies.get(page, []), dict(stats.errors.get(page, {}))
        rows.append({
            "page": page, "requests": stats.requests.get(page, 0),
            "p50_ms": percentile(times, 0.5), "p95_ms": percentile(times, 0.95),
            "max_ms": max(times) if times else float("nan"), "errors": errors,
        })
    return rows


def event_summary(researchers: list[Researcher], written: list[int]) -> dict[str, Any]:
    """Per client: delivered of the written ids, lost (written, never delivered), out of order, duplicates."""
    expected = set(written)
    upto = max(written) if written else 0
    clients = []
    for r in researchers:
        seen = [i for i in r.received if i <= upto]
        out_of_order, duplicates = order_faults(seen)
        clients.append({"client": r.username, "delivered": len(set(seen) & expected),
                        "lost": len(expected - set(seen)), "out_of_order": out_of_order,
                        "duplicates": duplicates, "reconnects": max(0, r.ws_connects - 1),
                        "ws_errors": len(r.ws_errors)})
    delivered = [c["delivered"] for c in clients]
    return {
        "written": len(written), "clients": clients,
        "delivered_min": min(delivered, default=0), "delivered_median": statistics.median(delivered) if delivered else 0,
        "delivered_max": max(delivered, default=0),
        "lost_total": sum(c["lost"] for c in clients), "clients_with_loss": sum(1 for c in clients if c["lost"]),
        "out_of_order_total": sum(c["out_of_order"] for c in clients),
        "duplicates_total": sum(c["duplicates"] for c in clients),
        "reconnects_total": sum(c["reconnects"] for c in clients),
    }


def verdict(doc: dict[str, Any]) -> list[str]:
    """What the test must not show: 5xx, timeouts, lost or disordered events, 'database is locked'."""
    problems = []
    for row in doc["pages"]:
        for kind, n in row["errors"].items():
            problems.append(f"{row['page']}: {n} x {kind}")
    ev = doc["events"]
    if ev["lost_total"]:
        problems.append(f"{ev['lost_total']} events lost over {ev['clients_with_loss']} clients")
    if ev["out_of_order_total"]:
        problems.append(f"{ev['out_of_order_total']} events out of order")
    if doc["server_log"]["database is locked"]:
        problems.append(f"'database is locked' {doc['server_log']['database is locked']} times in the server log")
    return problems


def _ms(value: float) -> str:
    return "-" if value != value else f"{value:,.0f}"


def render(doc: dict[str, Any]) -> str:
    cfg = doc["config"]
    lines = [
        f"Load test: {cfg['backend']} · {cfg['researchers']} researchers · {doc['measured_s'] / 60:.1f} min measured · "
        f"think time {cfg['think_s'][0]:g}-{cfg['think_s'][1]:g} s · load average 1-min mean "
        f"{doc['load_average']['mean']:.2f}, max {doc['load_average']['max']:.2f} ({doc['cpus']} CPUs)",
        "",
        f"{'page':<26}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}  errors",
    ]
    for row in doc["pages"]:
        errors = ", ".join(f"{k} {n}" for k, n in sorted(row["errors"].items())) or "0"
        lines.append(f"{row['page']:<26}{row['requests']:>9}{_ms(row['p50_ms']):>9}{_ms(row['p95_ms']):>9}"
                     f"{_ms(row['max_ms']):>9}  {errors}")
    total = sum(r["requests"] for r in doc["pages"])
    lines.append(f"{'all':<26}{total:>9}   ({total / max(doc['measured_s'], 1):.1f} requests/s)")
    ev = doc["events"]
    lines += [
        "",
        f"events written during the test: {ev['written']}; delivered per client: min {ev['delivered_min']}, "
        f"median {ev['delivered_median']:g}, max {ev['delivered_max']}",
        f"lost: {ev['lost_total']} (clients with loss: {ev['clients_with_loss']}); out of order: "
        f"{ev['out_of_order_total']}; duplicates: {ev['duplicates_total']}; websocket reconnects: "
        f"{ev['reconnects_total']}",
        "server log: " + ", ".join(f"{k}: {n}" for k, n in doc["server_log"].items()),
        "loop's writes during the test: " + ", ".join(f"{k} +{n}" for k, n in doc["writes"].items()),
    ]
    if "cpu_s" in doc:
        cpu = doc["cpu_s"]
        lines.append(f"CPU during the test: web server {cpu['web']:.0f} s ({1000 * cpu['web'] / max(total, 1):.0f} ms "
                     f"per request), conductor + workers + verifications {cpu['workers']:.0f} s")
    problems = verdict(doc)
    lines.append("verdict: " + ("clean" if not problems else "PROBLEMS: " + "; ".join(problems)))
    return "\n".join(lines)
