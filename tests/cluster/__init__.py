"""The multi-host test (`make cluster-test`): Reformflow on nine test hosts made of Linux network
namespaces on a private bridge, under load, while hosts die. See run.py for the scenario."""
