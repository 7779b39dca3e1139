import sys

from trainer.run.cli import main

sys.exit(main())
