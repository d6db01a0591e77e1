import sys

from grpo_theory.cli import main

sys.exit(main())
