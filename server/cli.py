"""``avatar-agent serve`` runs the server; ``avatar-agent chat`` talks to one over the protocol."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from types import FrameType

from server.settings import Settings


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app

    settings = Settings()
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        ws_max_size=settings.limits.transport_max_bytes,
        ws_ping_interval=settings.connection.heartbeat_interval_s,
        ws_ping_timeout=settings.connection.heartbeat_interval_s,
        timeout_graceful_shutdown=10,
        # Client addresses come from the app's trusted-proxy setting (server/quotas.py), never
        # from uvicorn believing X-Forwarded-For from whoever connects over loopback.
        proxy_headers=False,
    )

    class DrainingServer(uvicorn.Server):
        """uvicorn, with a graceful drain on the first SIGTERM: the app's ``state.drain`` (hand
        every session over to other processes) runs before uvicorn stops. A second signal, or
        SIGINT, stops at once as usual."""

        draining: asyncio.Task[None] | None = None

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if sig != signal.SIGTERM or self.draining is not None or self.should_exit:
                super().handle_exit(sig, frame)
                return
            # A signal handler runs between two bytecodes of the loop's thread: schedule.
            loop = asyncio.get_event_loop()
            loop.call_soon_threadsafe(self._start_drain, loop)

        def _start_drain(self, loop: asyncio.AbstractEventLoop) -> None:
            self.draining = loop.create_task(self._drain_then_exit(), name="drain")

        async def _drain_then_exit(self) -> None:
            try:
                await app.state.drain()
            finally:
                self.should_exit = True

    DrainingServer(config).run()
    return 0


async def _chat(url: str, persona: str | None, prompt: str, api_key: str | None = None) -> int:
    from server.ws_client import RealtimeClient, ServerError

    interactive = sys.stdin.isatty()

    def show(delta: str) -> None:
        sys.stdout.write(delta)
        sys.stdout.flush()

    client = RealtimeClient(url, persona=persona, api_key=api_key, on_delta=show)
    try:
        started = await client.connect()
    except (OSError, ServerError) as exc:
        print(f"cannot start a session at {url}: {exc}", file=sys.stderr)
        return 2
    persona_name = started["config"]["persona"]["name"]
    if interactive:
        print(
            f"Connected to {url} (session {client.session_id}). "
            f"Talking to {persona_name}; /quit or Ctrl-D to leave."
        )
    loop = asyncio.get_running_loop()
    try:
        while True:
            if interactive:
                sys.stdout.write(prompt)
                sys.stdout.flush()
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            text = line.strip()
            if not text:
                continue
            if text in ("/quit", "/exit"):
                break
            sys.stdout.write(f"{persona_name}: ")
            try:
                reply = await client.ask(text)
            except ServerError as exc:
                print(f"\n[error {exc}]")
                continue
            suffix = "" if reply.status == "completed" else f" [{reply.status}]"
            sys.stdout.write(f"{suffix}\n")
            sys.stdout.flush()
    finally:
        await client.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="avatar-agent", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run the server (configured by AVATAR_* variables)")
    p_serve.add_argument("--host", default=None)
    p_serve.add_argument("--port", type=int, default=None)
    p_chat = sub.add_parser("chat", help="chat in the terminal through the WebSocket protocol")
    p_chat.add_argument("--url", default="ws://127.0.0.1:8765/v1/realtime")
    p_chat.add_argument("--persona", default=None)
    p_chat.add_argument(
        "--api-key",
        default=os.environ.get("AVATAR_API_KEY"),
        help="API key for a server that requires one (default: $AVATAR_API_KEY)",
    )
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return asyncio.run(_chat(args.url, args.persona, "you: ", args.api_key))


if __name__ == "__main__":
    sys.exit(main())
