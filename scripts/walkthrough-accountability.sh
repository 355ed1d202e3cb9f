#!/bin/sh
# Returns (退回), extensions (延期), each department's clocks and the routing dry-run, through the API, against a
# running demo (`make demo`; B=http://127.0.0.1:8000 by default). Each step prints what the server answered.
set -eu
B=${B:-http://127.0.0.1:8000}
J='python3 -c'
tok() { curl -sf -X POST "$B/api/auth/token/" -H 'Content-Type: application/json' \
          -d "{\"username\": \"$1\", \"password\": \"liandong-demo\"}" | $J 'import json,sys; print(json.load(sys.stdin)["token"])'; }
post() { curl -s -X POST "$B$2" -H "Authorization: Token $1" -H 'Content-Type: application/json' -d "$3"; }
get() { curl -s "$B$2" -H "Authorization: Token $1"; }
order() { $J 'import json,sys; o=json.load(sys.stdin); print(o.get("errors") or "", o.get("detail") or "", "->", o.get("state"), "| returned", o.get("return_count"), "decided by", o.get("return_decided_by"), "| replaced_by", o.get("replaced_by"), "| due", o.get("due_at"), "| extension", (o.get("extension") or {}).get("seconds"))'; }
D=$(tok dispatcher); S=$(tok supervisor); A=$(tok admin)
TR=$(tok transit_staff); CML=$(tok city_management_lead); CM=$(tok city_management_staff)

echo "1. A waterlogging report; its orders"
INC=$(post "$D" /api/incidents/ '{"event_type": "waterlogging", "title": "Underpass flooded", "severity": 3,
  "location": {"lat": 31.21, "lon": 121.43}, "address": "Riverside Rd underpass"}' | $J 'import json,sys; print(json.load(sys.stdin)["id"])')
sleep 1
get "$D" "/api/incidents/$INC/" | $J 'import json,sys
d=json.load(sys.stdin); print(" ", d["number"], d["state"])
for w in d["work_orders"]: print("  ", w["id"], w["department"], w["state"], "due", w["due_at"])'
wo() { get "$D" "/api/work-orders/?incident=$INC&department=$1" | $J 'import json,sys; print(json.load(sys.stdin)["results"][0]["id"])'; }
WTR=$(wo transit); WCM=$(wo city_management)

echo "2. Transit returns its order: an unknown reason, then other without a note, then a reason"
post "$TR" "/api/work-orders/$WTR/actions/" '{"action": "return", "reason_code": "too_busy"}'; echo
post "$TR" "/api/work-orders/$WTR/actions/" '{"action": "return", "reason_code": "other"}'; echo
post "$TR" "/api/work-orders/$WTR/actions/" '{"action": "return", "reason_code": "not_our_function", "note": "No bus line runs under this underpass"}' | order
echo "   the returns queue:"; get "$D" "/api/work-orders/?state=returned" | $J 'import json,sys
for o in json.load(sys.stdin)["results"]: print("  ", o["id"], o["incident_number"], o["department"], o["return_reason"], o["return_note"])'

echo "3. The dispatcher rejects it (a note is required); transit returns it again; now a supervisor decides"
post "$D" "/api/work-orders/$WTR/return-decision/" '{"decision": "reject"}'; echo
post "$D" "/api/work-orders/$WTR/return-decision/" '{"decision": "reject", "note": "Route 41 stops there: reroute it"}' | order
post "$TR" "/api/work-orders/$WTR/actions/" '{"action": "return", "reason_code": "other", "note": "Route 41 was moved last week"}' | order
post "$D" "/api/work-orders/$WTR/return-decision/" '{"decision": "uphold", "department": "environment"}'; echo
post "$S" "/api/work-orders/$WTR/return-decision/" '{"decision": "uphold", "department": "environment", "note": "Sewage: environment"}' | order
get "$D" "/api/incidents/$INC/" | $J 'import json,sys
for w in json.load(sys.stdin)["work_orders"]: print("  ", w["id"], w["department"], w["state"], "replaced_by", w["replaced_by"])'

echo "4. City management accepts; its lead asks for 30 more minutes; the dispatcher approves"
post "$CM" "/api/work-orders/$WCM/actions/" '{"action": "accept"}' | order
post "$CML" "/api/work-orders/$WCM/actions/" '{"action": "request_extension", "seconds": 1800, "reason": "Second pump needed"}' | order
post "$CML" "/api/work-orders/$WCM/actions/" '{"action": "request_extension", "seconds": 600, "reason": "Again"}'; echo
post "$D" "/api/work-orders/$WCM/extension-decision/" '{"decision": "approve", "note": "Granted"}' | order

echo "5. City management pauses its clock (waiting for another department); the incident's composed clock"
post "$CM" "/api/work-orders/$WCM/actions/" '{"action": "pause", "pause_reason": "waiting_department", "note": "Waiting for traffic police to close the road"}' | order
get "$S" "/api/incidents/$INC/sla/" | $J 'import json,sys
d=json.load(sys.stdin); print("  ", d["state"], d["composition"], "due", d["due_at"], "remaining", d["remaining_seconds"], "paused", d["paused"], "late:", d["breached_by"])
for c in d["components"]: print("    ", c["department"], c["clock"], "due", c["due_at"], "stopped", c["stopped_at"], "paused" if c["paused"] else "", "late by %ss" % c["breached_by_seconds"] if c["breached"] else "")'

echo "6. Routing dry-run over the last day: the current rules, then a draft adding environment to waterlogging in riverside"
FROM=$($J 'import datetime; print((datetime.datetime.now(datetime.timezone.utc)-datetime.timedelta(days=1)).isoformat())')
TO=$($J 'import datetime; print((datetime.datetime.now(datetime.timezone.utc)+datetime.timedelta(minutes=1)).isoformat())')
RULES=$(get "$A" /api/routing/dry-run/ | $J 'import json,sys; print(json.dumps(json.load(sys.stdin)["rules"]))')
post "$A" /api/routing/dry-run/ "{\"rules\": $RULES, \"from\": \"$FROM\", \"to\": \"$TO\"}" | $J 'import json,sys; d=json.load(sys.stdin); print("   the current rules (%d) replayed: changed" % len(json.loads(sys.argv[1])), d["changed"], "of", d["totals"]["incidents"])' "$RULES"
DRAFT=$($J 'import json,sys; print(json.dumps([{"position": 0, "event_type": "waterlogging", "districts": ["riverside"], "department": "environment", "action": "dispatch"}] + json.loads(sys.argv[1])))' "$RULES")
post "$A" /api/routing/dry-run/ "{\"rules\": $DRAFT, \"from\": \"$FROM\", \"to\": \"$TO\"}" | $J 'import json,sys
d=json.load(sys.stdin); print("   draft: changed", d["changed"], "totals", d["totals"])
for i in d["incidents"][:3]: print("    ", i["id"], i["before"], "->", i["after"])'
post "$D" /api/routing/dry-run/ "{\"rules\": [], \"from\": \"$FROM\", \"to\": \"$TO\"}"; echo
