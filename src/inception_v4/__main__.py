"""``python -m inception_v4`` (and ``torchrun -m inception_v4``) runs the command line."""

import sys

from .cli import main

sys.exit(main())
