"""Structured JSON logs (Powertools' formatter) for the long-running processes."""

from __future__ import annotations

import logging

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter


def configure_logging(level: str, service: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(LambdaPowertoolsFormatter(service=service))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
