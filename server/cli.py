"""``avatar-agent serve`` runs the server; ``avatar-agent chat`` talks to one over the protocol."""

from __future__ import annotations

import argparse
import asyncio
import sys

from server.settings import Settings


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app

    settings = Settings()
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        ws_max_size=settings.limits.transport_max_bytes,
        ws_ping_interval=settings.connection.heartbeat_interval_s,
        ws_ping_timeout=settings.connection.heartbeat_interval_s,
        timeout_graceful_shutdown=10,
    )
    return 0


async def _chat(url: str, persona: str | None, prompt: str) -> int:
    from server.ws_client import RealtimeClient, ServerError

    interactive = sys.stdin.isatty()

    def show(delta: str) -> None:
        sys.stdout.write(delta)
        sys.stdout.flush()

    client = RealtimeClient(url, persona=persona, on_delta=show)
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
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return asyncio.run(_chat(args.url, args.persona, "you: "))


if __name__ == "__main__":
    sys.exit(main())
