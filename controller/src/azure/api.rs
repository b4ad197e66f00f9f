//! The ARM API versions azlin speaks, pinned in one place.

/// Microsoft.Resources (resource groups).
pub const RESOURCES: &str = "2022-09-01";
/// Subscriptions (`GET /subscriptions/{id}`).
pub const SUBSCRIPTIONS: &str = "2022-12-01";
/// Microsoft.Network (VNets, subnets, NSGs, public IPs, NICs).
pub const NETWORK: &str = "2024-01-01";
/// Microsoft.Compute virtual machines.
pub const COMPUTE: &str = "2024-03-01";
/// Microsoft.Compute disks and snapshots (the DiskRP).
pub const DISKS: &str = "2023-10-02";
/// Microsoft.Storage (accounts, file shares).
pub const STORAGE: &str = "2023-05-01";
/// Microsoft.Compute resource SKUs (sizes, their families and
/// restrictions by region).
pub const SKUS: &str = "2021-07-01";
/// Microsoft.CostManagement (the Query API).
pub const COST_MANAGEMENT: &str = "2023-11-01";
/// Microsoft.Consumption (budgets).
pub const CONSUMPTION: &str = "2023-05-01";
/// Microsoft.DevTestLab (a VM's auto-shutdown schedule).
pub const DEVTESTLAB: &str = "2018-09-15";
