"""`python -m bot.cli ...`: the same as the `groupbot` console script."""

from bot.cli import main

main()
