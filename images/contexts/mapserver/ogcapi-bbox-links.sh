#!/bin/sh
# Output filter of OGC API items responses (Apache mod_ext_filter, on requests with a bbox):
# MapServer 8.0 writes the paging links (self, alternate, next, prev) without the request's
# bbox, so following "next" would page through the whole collection. Put the bbox back.
bbox=$(printf '%s' "$QUERY_STRING" | tr '&' '\n' | sed -n 's/^bbox=\([-+0-9.,eE%C]\{1,200\}\)$/\1/p' | head -n 1)
[ -n "$bbox" ] || exec cat
exec sed "s#\(/items?f=[a-z]*&limit=[0-9]*\)&offset=#\1\&bbox=$bbox\&offset=#g"
