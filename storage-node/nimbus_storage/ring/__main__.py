"""``python -m nimbus_storage.ring``: the same commands as ``nimbus-storage ring``."""

import sys

from nimbus_storage.ring.cli import main, module_prog

sys.exit(main(prog=module_prog()))
