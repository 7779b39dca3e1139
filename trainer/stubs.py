"""Entry point ``python -m trainer.stubs``: regenerate the 14 shipped stub models and cards.

The work lives in ``trainer.shipping.stubs``; this module only keeps the documented command.
"""

import sys

from trainer.shipping.stubs import main

if __name__ == "__main__":
    sys.exit(main())
