import sys

from trainer.bench.cli import main

sys.exit(main())
