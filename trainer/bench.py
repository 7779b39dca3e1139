"""Entry point ``python -m trainer.bench``: the benchmark (see ``trainer.run.bench`` for its sections).

The work lives in ``trainer.run.bench``; this module only keeps the documented command.
"""

import sys

from trainer.run.bench import main

if __name__ == "__main__":
    sys.exit(main())
