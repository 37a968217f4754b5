# The two README commands, and a few more for day-to-day work.
.PHONY: up up-by-hand test unit preview down bench bench-lb backup backups restore-drill archive

up:        ## bootstrap the machine, build the lab, pulumi up the dev stack
	bash scripts/up.sh

up-by-hand: ## the same architecture on the lab with the plain docker CLI (bench/seed-recipe.sh)
	bash lab/lab up && bash bench/seed-recipe.sh up

test:      ## every test: unit, toolchain smoke, images, lab, integration
	bash scripts/test.sh

unit:      ## the unit tests alone (seconds; no Docker, no Go programs)
	bash scripts/venv.sh && .venv/bin/python -m pytest -q tests/unit

preview:   ## what `pulumi up` would change on the dev stack
	bash scripts/preview.sh

down:      ## pulumi destroy the dev stack, then remove the lab
	bash scripts/down.sh

bench:     ## hand-made recipe versus pulumi up on the lab (bench/compare.py; needs the plugins)
	bash bench/run.sh

bench-lb:  ## sysbench direct to the Galera nodes vs through galera-lb, one run (bench/lb.sh; needs `make up`)
	bash bench/lb.sh $(BENCH_LB_ARGS)

backup:    ## take a backup of the running stack now; prints its snapshot id, size and node
	bash scripts/backup.sh now

backups:   ## list the backups in the stack's repository, and the last backup's and drill's reports
	bash scripts/backup.sh list

restore-drill: ## restore the newest backup into a throwaway server and CHECK TABLE every table
	bash scripts/backup.sh drill

archive:   ## archive the binary logs now (point-in-time recovery; they go every backup.pitrInterval anyway)
	bash scripts/backup.sh archive
