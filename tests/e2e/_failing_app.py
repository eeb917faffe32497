"""The app with test-only routes that fail, for tests of what an unexpected exception
answers. Served by uvicorn as a factory: `tests.e2e._failing_app:failing_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from cases.api.app import create_app

SECRET = "text-only-the-exception-holds"  # noqa: S105 - not a password: a marker


def failing_app() -> FastAPI:
    """The configured app, plus `/test-faults/raise` (GET or POST: the endpoint
    raises) and `/test-faults/half-answer` (raises once its answer has begun)."""
    app = create_app()

    def fail() -> None:
        raise RuntimeError(f"unexpected: {SECRET}")

    async def half_answer() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"the first part of an answer, "
            raise RuntimeError(f"unexpected mid-answer: {SECRET}")

        return StreamingResponse(chunks(), media_type="text/plain")

    app.add_api_route("/test-faults/raise", fail, methods=["GET", "POST"])
    app.add_api_route("/test-faults/half-answer", half_answer, methods=["GET"])
    return app
