from hnnbench.cli import main

main()
