"""Live fan-out to WebSocket clients (docs/live.md).

`keys` names the connection registry's Redis keys, `registry` keeps it, `messages` is the pure
wire format (parts, delta composition, a reference client), `poster` posts through the API
Gateway Management API (boto3), and `service` is the pusher process
(`python -m strikeboard.push`) that forwards the feed's live channels to subscribers.
"""
