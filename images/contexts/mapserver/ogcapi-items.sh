#!/bin/sh
# CGI wrapper of mapserv for OGC API – Features items pages as JSON, working around two
# defects of MapServer 8.0:
# - with PostGIS layers, offset is ignored (the driver pages natively and is never told the
#   offset): mapserv is asked for offset+limit features from the start, and the first
#   offset ones are dropped;
# - the paging links (self, alternate, next, prev) lose the request's bbox: they are
#   rebuilt from the request's own parameters.
# Other answers (errors, other formats) pass through unchanged.
set -u
q="${QUERY_STRING:-}"
param() { printf '%s' "$q" | tr '&' '\n' | sed -n "s/^$1=//p" | tail -n 1; }
offset=$(param offset)
limit=$(param limit)
bbox=$(param bbox)
case "$offset" in '' | *[!0-9]*) offset=0 ;; esac
case "$limit" in '' | *[!0-9]*) limit=10 ;; esac
case "$bbox" in *[!-+0-9.,eE%C]*) bbox= ;; esac
offset=$(printf '%s' "$offset" | cut -c1-9)
limit=$(printf '%s' "$limit" | cut -c1-9)
[ "$limit" -ge 1 ] || limit=10
[ "$limit" -le 10000 ] || limit=10000
want=$((offset + limit))
if [ "$want" -gt 10000 ]; then
	printf 'Status: 400 Bad Request\r\nContent-Type: application/json\r\n\r\n'
	printf '{"code":"InvalidParameterValue","description":"offset + limit must be at most 10000"}\n'
	exit 0
fi
rest=$(printf '%s' "$q" | tr '&' '\n' | grep -v -E '^(offset|limit)=' | paste -sd '&' -)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
QUERY_STRING="$rest&limit=$want" /usr/lib/cgi-bin/mapserv >"$out"
headers=$(sed -n '1,/^\r\{0,1\}$/p' "$out")
if printf '%s' "$headers" | grep -qi '^Status:' || ! printf '%s' "$headers" | grep -qi '^Content-Type: application/.*json'; then
	cat "$out"
	exit 0
fi
printf '%s\n' "$headers" | tr -d '\r' | sed '/^$/d' | sed 's/$/\r/'
printf '\r\n'
sed '1,/^\r\{0,1\}$/d' "$out" | jq -c --argjson o "$offset" --argjson l "$limit" --arg bbox "$bbox" '
  ((.links // []) | map(select(.rel == "self" or .rel == "alternate")) | .[0].href // "" | sub("[?].*$"; "")) as $base
  | def page($f; $off): $base + "?f=" + $f + (if $bbox != "" then "&bbox=" + $bbox else "" end)
      + "&limit=" + ($l | tostring) + "&offset=" + ($off | tostring);
  .features = ((.features // [])[$o:])
  | .numberReturned = (.features | length)
  | .links = ([
      {rel: "self", type: "application/geo+json", title: "Items for this collection as GeoJSON", href: page("json"; $o)},
      {rel: "alternate", type: "text/html", title: "Items for this collection as HTML", href: page("html"; $o)}]
    + (if $o + $l < .numberMatched then [{rel: "next", type: "application/geo+json", title: "next page", href: page("json"; $o + $l)}] else [] end)
    + (if $o > 0 then [{rel: "prev", type: "application/geo+json", title: "previous page", href: page("json"; ([$o - $l, 0] | max))}] else [] end))'
