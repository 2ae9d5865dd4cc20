"""Test helpers shared by the Motorcade services: PostgreSQL with the PLAT_03 contract, in-thread and real servers."""

from motorcade_service_testing.postgres import ContractCluster, PostgresStartError, contract_cluster, free_port
from motorcade_service_testing.server import ServiceProcess, live_server, service_process

__all__ = [
    "ContractCluster",
    "PostgresStartError",
    "ServiceProcess",
    "contract_cluster",
    "free_port",
    "live_server",
    "service_process",
]
