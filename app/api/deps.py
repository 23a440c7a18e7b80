"""Shared dependencies of the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.config import Settings
from app.core.streams import StreamService


def get_service(request: Request) -> StreamService:
    service: StreamService = request.app.state.streams
    return service


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ServiceDep = Annotated[StreamService, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
