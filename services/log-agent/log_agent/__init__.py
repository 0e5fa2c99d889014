"""log-agent: Fluent Forward in, durable spool, at-least-once outputs."""
