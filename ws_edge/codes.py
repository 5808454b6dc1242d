"""WebSocket close codes. 1001 and 4000-4099: reconnect and resume with
``after``. 4400-4499: do not retry (fix the token or the request first)."""

NORMAL = 1000
GOING_AWAY = 1001  # server shutting down: reconnect (elsewhere) and resume
INTERNAL_ERROR = 1011  # a bug on our side: reconnect and resume
TRY_AGAIN_LATER = 1013  # PostgreSQL or NATS unavailable: reconnect after a second and resume

SLOW_CONSUMER = 4000  # fell too far behind: reconnect and resume
MISSED_HEARTBEAT = 4001  # nothing heard for two heartbeats: reconnect and resume

BAD_REQUEST = 4400  # e.g. an `after` that is not a number: fix the URL
UNAUTHENTICATED = 4401  # no, bad or expired token: get a new token first
FORBIDDEN = 4403  # not yours (or not staff, for the inbox): do not retry
ORIGIN_NOT_ALLOWED = 4406  # a browser page from an origin not allowed: do not retry
NOT_FOUND = 4404  # no such conversation: do not retry
TOO_MANY_SOCKETS = 4409  # the user has the most sockets allowed open on this node: close one
TOO_MANY_CONNECTS = 4429  # too many upgrade attempts from this IP this minute: wait
