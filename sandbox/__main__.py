"""Command line: python -m sandbox [--port 8081] [--host 127.0.0.1] [--clock manual] [--seed 1]."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

from aiohttp import web

from sandbox.app import create_app
from sandbox.config import SandboxConfig, config_from_env, env_name, parse_bool


def build_parser() -> argparse.ArgumentParser:
    """Return a parser with one flag per setting (env var named in the help)."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description=(
            "Simulated Evolution API v2 and GreenAPI over real HTTP. Flags override env vars."
        ),
    )
    for f in dataclasses.fields(SandboxConfig):
        flag = "--" + f.name.replace("_", "-")
        text = f"{f.metadata['help']} (env {env_name(f.name)})"
        if f.metadata["parse"] is parse_bool:
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=None, help=text
            )
        else:
            parser.add_argument(flag, default=None, metavar=f.name.upper(), help=text)
    return parser


def load_config(argv: list[str] | None = None) -> SandboxConfig:
    """Build the config from env vars, then CLI flags."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_env()
        config.update({k: v for k, v in vars(args).items() if v is not None})
    except ValueError as exc:
        parser.error(str(exc))
    return config


def main(argv: list[str] | None = None) -> None:
    """Run the sandbox until interrupted."""
    config = load_config(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    access_log = logging.getLogger("aiohttp.access") if config.access_log else None
    url = config.base_url()
    control = f", control page {url}/_sandbox/" if config.control else ""

    def announce(*_: object) -> None:
        print(
            f"sandbox: Evolution API and GreenAPI on {url} (clock {config.clock}){control}",
            file=sys.stderr,
            flush=True,
        )

    web.run_app(
        create_app(config),
        host=config.host,
        port=config.port,
        access_log=access_log,
        backlog=1024,
        print=announce,
        shutdown_timeout=2.0,
    )


if __name__ == "__main__":
    main()
