"""Test helpers shared by the Motorcade services (PostgreSQL with the PLAT_03 contract, live server, log capture)."""

from motorcade_service_testing.logs import captured_log_lines
from motorcade_service_testing.postgres import ContractCluster, PostgresStartError, contract_cluster, free_port
from motorcade_service_testing.server import live_server

__all__ = ["ContractCluster", "PostgresStartError", "captured_log_lines", "contract_cluster", "free_port", "live_server"]
