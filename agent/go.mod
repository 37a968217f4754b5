module github.com/galera-swarm/galera-swarm/agent

go 1.26.0
