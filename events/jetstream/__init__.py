"""Publishing the log on NATS JetStream (nats-py): topology, relay, ack window."""
