"""health-reporter: device metrics, checks, telemetry and a dashboard."""
