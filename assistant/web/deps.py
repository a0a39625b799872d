"""FastAPI dependencies: routes get the service built once in the app's lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..service import ChatService


def get_service(request: Request) -> ChatService:
    return request.app.state.service


Service = Annotated[ChatService, Depends(get_service)]
