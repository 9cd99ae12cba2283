"""Live fan-out to WebSocket clients (docs/live.md).

`keys` names the connection registry's Redis keys, `registry` keeps it, `messages` is the pure
wire format (parts, delta composition, a reference client), `poster` holds the posting
interfaces and the boto3 poster, `httpposter` (with `sigv4` and `httppool`) the pusher's own,
`conflate` what each connection is owed, and `service` is the pusher process
(`python -m strikeboard.push`) that forwards the feed's live channels to subscribers.
"""
