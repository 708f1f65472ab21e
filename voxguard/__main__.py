import sys

from voxguard.cli import main

sys.exit(main())
