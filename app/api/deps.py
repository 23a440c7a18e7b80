"""Shared dependencies of the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.config import Settings, get_settings
from app.core.streams import StreamService


def get_service(request: Request) -> StreamService:
    service: StreamService = request.app.state.streams
    return service


ServiceDep = Annotated[StreamService, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
