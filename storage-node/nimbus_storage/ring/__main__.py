import sys

from nimbus_storage.ring.cli import main

sys.exit(main())
