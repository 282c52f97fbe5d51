"""Routes of the canvass domain (being built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["canvass"])
