//! A bill's rows summed: per day, and per VM (each resource to the VM
//! that owns it, the rest as "shared"). Provider-neutral: the owners map
//! says which resource is whose.

use std::collections::BTreeMap;

use super::dates::Day;

/// One VM's share of a range.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VmCost {
    pub vm: String,
    pub cost: f64,
    /// Distinct resources billed to it.
    pub resources: usize,
}

/// A range summed by VM.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ByVm {
    /// Most expensive first.
    pub vms: Vec<VmCost>,
    /// What no VM owns (storage accounts, shared NSGs, VNets…).
    pub shared: f64,
    pub shared_resources: usize,
}

/// `rows` (resource id, cost) summed by the VM `owners` gives each.
pub fn by_vm<'a>(
    rows: impl IntoIterator<Item = (&'a str, f64)>,
    owners: &BTreeMap<String, String>,
) -> ByVm {
    let mut vms: BTreeMap<&str, (f64, std::collections::BTreeSet<&str>)> = BTreeMap::new();
    let mut shared = (0.0, std::collections::BTreeSet::new());
    for (id, cost) in rows {
        match owners.get(id) {
            Some(vm) => {
                let e = vms.entry(vm.as_str()).or_default();
                e.0 += cost;
                e.1.insert(id);
            }
            None => {
                shared.0 += cost;
                shared.1.insert(id);
            }
        }
    }
    let mut out: Vec<VmCost> = vms
        .into_iter()
        .map(|(vm, (cost, ids))| VmCost {
            vm: vm.to_string(),
            cost,
            resources: ids.len(),
        })
        .collect();
    out.sort_by(|a, b| b.cost.total_cmp(&a.cost).then_with(|| a.vm.cmp(&b.vm)));
    ByVm {
        vms: out,
        shared: shared.0,
        shared_resources: shared.1.len(),
    }
}

/// `rows` (day, cost) summed by day, in order; days with no row are
/// absent (no data), never zero.
pub fn by_day(rows: impl IntoIterator<Item = (Day, f64)>) -> Vec<(Day, f64)> {
    let mut days: BTreeMap<Day, f64> = BTreeMap::new();
    for (day, cost) in rows {
        *days.entry(day).or_default() += cost;
    }
    days.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_resource_goes_to_its_vm_and_the_rest_is_shared() {
        let owners: BTreeMap<String, String> = [("/vm/a", "a"), ("/disk/a", "a"), ("/vm/b", "b")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let rows = [
            ("/vm/a", 2.0),
            ("/disk/a", 0.5),
            ("/vm/a", 2.0),
            ("/vm/b", 9.0),
            ("/storage/x", 0.25),
            ("", 0.25),
        ];
        let out = by_vm(rows, &owners);
        assert_eq!(out.vms[0].vm, "b");
        assert_eq!(
            out.vms[1],
            VmCost {
                vm: "a".into(),
                cost: 4.5,
                resources: 2
            }
        );
        assert_eq!(out.shared, 0.5);
        assert_eq!(out.shared_resources, 2);
        let total: f64 = out.vms.iter().map(|v| v.cost).sum::<f64>() + out.shared;
        assert_eq!(total, rows.iter().map(|r| r.1).sum::<f64>());
    }

    #[test]
    fn days_sum_and_missing_days_stay_missing() {
        let d = |s: &str| Day::parse(s).unwrap();
        let days = by_day([
            (d("2026-11-02"), 1.0),
            (d("2026-11-01"), 2.0),
            (d("2026-11-02"), 0.5),
            (d("2026-11-04"), 3.0),
        ]);
        assert_eq!(
            days,
            vec![
                (d("2026-11-01"), 2.0),
                (d("2026-11-02"), 1.5),
                (d("2026-11-04"), 3.0)
            ]
        );
    }
}
