"""The case timeline page: server-rendered HTML with Jinja2's autoescaping, no build step.

Everything shown is an id, a code or a time, but it is escaped all the same: a code is still
text that came over the wire.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, select_autoescape

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Case {{ case_id }}: timeline</title>
<style>
body { font-family: sans-serif; margin: 2rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #bbb; padding: .3rem .5rem; text-align: left; font-size: .9rem; }
th { background: #eee; }
ol.chain li.current { font-weight: bold; }
code { font-size: .8rem; }
</style>
</head>
<body>
<h1>Case <span id="case-id">{{ case_id }}</span></h1>
<h2>Referral chain</h2>
<ol class="chain" id="chain">
{% for link in chain %}
<li class="{{ 'current' if link.case_id == case_id else 'linked' }}"
 data-case="{{ link.case_id or '' }}">
{{ link.case_id or "a case at another agency" }} ({{ link.agency_id }}, {{ link.stage }}
{%- if link.referral_state %}, referral {{ link.referral_state }}{% endif %}
{%- if link.referral_target %} to {{ link.referral_target }}{% endif %})
</li>
{% endfor %}
</ol>
<h2>Events</h2>
<table id="events">
<thead><tr><th>Time</th><th>Case</th><th>Service</th><th>Agency</th><th>Actor role</th>
<th>Event</th><th>Codes</th></tr></thead>
<tbody>
{% for e in events %}
<tr class="event">
<td>{{ e.occurred_at.isoformat(timespec="seconds") }}</td><td>{{ e.case_id }}</td>
<td>{{ e.service }}</td><td>{{ e.agency_id }}</td><td>{{ e.actor_role }}</td>
<td class="type">{{ e.event_type }}</td>
<td><code>{% for k, v in e.codes.items() %}{{ k }}={{ v }} {% endfor %}</code></td>
</tr>
{% endfor %}
</tbody>
</table>
</body>
</html>
"""

_TEMPLATE = Environment(autoescape=select_autoescape(default=True)).from_string(PAGE)


def render_timeline(case_id: str, chain: list[dict[str, Any]], events: list[dict[str, Any]]) -> str:
    """The page for one case, its referral chain and the events of the chain's cases."""
    return _TEMPLATE.render(case_id=case_id, chain=chain, events=events)
