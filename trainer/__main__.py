import sys

from trainer.executors.early_start import start_fork_server_early

start_fork_server_early(sys.argv[1:])  # before the CLI's imports: the fork server imports torch meanwhile

from trainer.run.cli import main  # noqa: E402

sys.exit(main())
