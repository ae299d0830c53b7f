"""``python -m e2e.guest build|path|tools`` — the guest image and the host tools it needs.

Progress goes to stderr; ``path`` prints only the image directory on stdout.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from e2e.guest import host_tools
from e2e.guest.image import ImageError, cached_image, ensure_image, format_seconds, image_for

EXIT_OK = 0
EXIT_FAILED = 1


def cmd_build(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        result = ensure_image(force=args.force)
    except (ImageError, host_tools.HostToolsMissing) as error:
        logging.error("%s", error)
        return EXIT_FAILED
    action = "built" if result.built else "cached"
    logging.info(
        "guest image %s %s in %s: %s",
        result.image.key,
        action,
        format_seconds(time.monotonic() - started),
        result.image.directory,
    )
    return EXIT_OK


def cmd_path(_args: argparse.Namespace) -> int:
    image = cached_image()
    if image is None:
        logging.error("not built: %s (run `python -m e2e.guest build`)", image_for().directory)
        return EXIT_FAILED
    print(image.directory)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.guest", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the guest image unless it is cached")
    build.add_argument("--force", action="store_true", help="rebuild even when cached")
    build.set_defaults(func=cmd_build)
    path = commands.add_parser("path", help="print the cached image's directory")
    path.set_defaults(func=cmd_path)
    tools = commands.add_parser("tools", help="check the host tools (as e2e.guest.host_tools)")
    tools.add_argument("--install", action="store_true")
    tools.set_defaults(func=lambda a: host_tools.main(["--install"] if a.install else []))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
