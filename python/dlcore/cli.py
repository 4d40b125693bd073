"""The `dlcore` command line: `dlcore --version`, `dlcore info` (more subcommands register themselves in
COMMANDS)."""
from __future__ import annotations

import argparse
import sys

# name -> (help, add_arguments(parser), run(args) -> exit code); other modules add entries (train, eval, bench).
COMMANDS: dict = {}


def _info_args(p):
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.add_argument("--kernels", action="store_true", help="also list the registered kernels")


def _info_run(args):
    import json

    import dlcore
    if args.json:
        print(json.dumps(dlcore.info(as_dict=True), indent=2))
    else:
        print(dlcore.info())
    if args.kernels:
        from dlcore import _C
        for op, dev, impl in sorted(_C._kernels()):
            print(f"  {op:24s} {dev:5s} {impl}")
    return 0


COMMANDS["info"] = ("print the build, the CPU ISA chosen, threads and CUDA status", _info_args, _info_run)


def _load_plugins():
    # Subcommands living in other modules register on import; a missing optional one is simply absent.
    for mod in ("dlcore.train_cli", "dlcore.bench_cli"):
        try:
            __import__(mod)
        except ImportError as e:
            if mod.split(".")[-1] not in str(e):
                raise


def main(argv=None) -> int:
    _load_plugins()
    parser = argparse.ArgumentParser(prog="dlcore", description="dlcore: deep-learning compute engine")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
    for name, (help_, add_args, _) in COMMANDS.items():
        p = sub.add_parser(name, help=help_)
        add_args(p)
    args = parser.parse_args(argv)
    if args.version:
        import dlcore
        print(f"dlcore {dlcore.__version__}")
        return 0
    if not args.command:
        parser.print_help()
        return 1
    from .serialization import CheckpointError
    try:
        return int(COMMANDS[args.command][2](args) or 0)
    except (FileNotFoundError, ValueError, KeyError, NotImplementedError, CheckpointError) as e:
        # User errors (missing data, unknown model, bad option values, a corrupt checkpoint or one that does not fit
        # the model: training.load_checkpoint raises CheckpointError for those): one clear line, no traceback.
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"dlcore {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dlcore {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
