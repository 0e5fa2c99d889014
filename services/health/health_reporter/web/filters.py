"""Jinja filters for the dashboard: numbers, durations and times a person reads at a glance."""

from __future__ import annotations

import time

from flask import Flask
from jinja2.filters import do_filesizeformat


def fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:.1f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{secs} s"


def quantity(value: float | None, unit: str) -> str:
    """"12 records", "55 °C", or for bytes jinja's "4.0 KiB"."""
    if value is None:
        return "–"
    if unit == "bytes":
        return do_filesizeformat(value, binary=True)
    return f"{fmt(value)} {unit}"


def clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(epoch))


def register(app: Flask) -> None:
    for function in (fmt, duration, quantity, clock):
        app.add_template_filter(function)
